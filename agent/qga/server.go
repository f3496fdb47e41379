// Package qga answers the QEMU guest agent protocol on the virtio-serial
// port org.qemu.guest_agent.0, so that engines which stop, back up and
// list guests through the agent (KubeVirt, Proxmox VE) get answers from a
// tinyboot machine: the commands are JSON objects, answered one JSON line
// each, guest-sync-delimited's answer preceded by a 0xFF byte.
//
// The package holds the protocol (Server) and the Linux side it drives
// (Linux); the agent wires the shutdown request to its own.
package qga

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"
)

// Version is what guest-info reports as the agent's version.
const Version = "tinyboot-1"

// Error classes of the protocol.
const (
	ClassGeneric         = "GenericError"
	ClassCommandNotFound = "CommandNotFound"
)

// Host is what the commands read and do on the machine.
type Host interface {
	Hostname() (string, error)
	OSInfo() (OSInfo, error)
	Interfaces() ([]Interface, error)
	Filesystems() ([]Filesystem, error)
	// Freeze freezes the filesystems the agent may freeze and returns how
	// many it froze; Thaw undoes it and returns how many it thawed.
	Freeze() (int, error)
	Thaw() (int, error)
	// Shutdown asks for the machine's graceful shutdown; mode is
	// "powerdown", "reboot" or "halt". It returns at once.
	Shutdown(mode string) error
	Now() time.Time
}

// OSInfo is guest-get-osinfo's answer.
type OSInfo struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	PrettyName    string `json:"pretty-name"`
	Version       string `json:"version,omitempty"`
	VersionID     string `json:"version-id,omitempty"`
	KernelRelease string `json:"kernel-release"`
	KernelVersion string `json:"kernel-version"`
	Machine       string `json:"machine"`
}

// Interface is one entry of guest-network-get-interfaces.
type Interface struct {
	Name            string      `json:"name"`
	HardwareAddress string      `json:"hardware-address,omitempty"`
	IPAddresses     []IPAddress `json:"ip-addresses,omitempty"`
}

// IPAddress is one address of an Interface.
type IPAddress struct {
	Type    string `json:"ip-address-type"` // "ipv4" or "ipv6"
	Address string `json:"ip-address"`
	Prefix  int    `json:"prefix"`
}

// Filesystem is one entry of guest-get-fsinfo.
type Filesystem struct {
	Name       string        `json:"name"`
	Mountpoint string        `json:"mountpoint"`
	Type       string        `json:"type"`
	Disk       []DiskAddress `json:"disk"`
	TotalBytes uint64        `json:"total-bytes"`
	UsedBytes  uint64        `json:"used-bytes"`
}

// DiskAddress names the disk a Filesystem lives on. The protocol's full
// address (PCI slot, bus, unit) is not known without udev; dev is.
type DiskAddress struct {
	Dev     string `json:"dev,omitempty"`
	BusType string `json:"bus-type"`
}

// DefaultThawTimeout is how long filesystems stay frozen without a
// guest-fsfreeze-thaw: a backup snapshot takes seconds, and a host that
// died meanwhile must not leave the app blocked in its writes for good.
const DefaultThawTimeout = 5 * time.Minute

// Server answers the protocol. Its zero value is not usable: use New.
type Server struct {
	host        Host
	logf        func(format string, args ...any)
	thawTimeout time.Duration

	// mu guards the freeze state, which the thaw timer and Shutdown
	// reach from other goroutines.
	mu        sync.Mutex
	frozen    bool
	thawTimer *time.Timer
}

// New returns a Server driving host. logf receives one line per thing
// worth knowing (freezes, thaws, shutdown requests); thawTimeout <= 0
// means DefaultThawTimeout.
func New(host Host, logf func(format string, args ...any), thawTimeout time.Duration) *Server {
	if thawTimeout <= 0 {
		thawTimeout = DefaultThawTimeout
	}
	return &Server{host: host, logf: logf, thawTimeout: thawTimeout}
}

// command is one entry of the command table.
type command struct {
	// params are the argument names the command accepts.
	params []string
	// required are the params it must get.
	required []string
	// noReply marks commands the protocol answers with silence on
	// success (guest-shutdown: the host learns from the machine stopping).
	noReply bool
	// whileFrozen marks commands that still run while filesystems are
	// frozen; the rest could block on them, so they are refused.
	whileFrozen bool
	run         func(s *Server, args map[string]json.RawMessage) (any, error)
}

// commands is the table guest-info reports and dispatch reads; set in
// init because guest-info itself reads it.
var commands map[string]command

func init() { commands = commandTable() }

func commandTable() map[string]command {
	return map[string]command{
		"guest-sync":            {params: []string{"id"}, required: []string{"id"}, whileFrozen: true, run: (*Server).sync},
		"guest-sync-delimited":  {params: []string{"id"}, required: []string{"id"}, whileFrozen: true, run: (*Server).sync},
		"guest-ping":            {whileFrozen: true, run: func(*Server, map[string]json.RawMessage) (any, error) { return struct{}{}, nil }},
		"guest-info":            {whileFrozen: true, run: (*Server).info},
		"guest-get-osinfo":      {whileFrozen: true, run: func(s *Server, _ map[string]json.RawMessage) (any, error) { return s.host.OSInfo() }},
		"guest-get-host-name":   {whileFrozen: true, run: (*Server).hostName},
		"guest-get-time":        {whileFrozen: true, run: func(s *Server, _ map[string]json.RawMessage) (any, error) { return s.host.Now().UnixNano(), nil }},
		"guest-get-fsinfo":      {whileFrozen: true, run: (*Server).fsinfo},
		"guest-fsfreeze-status": {whileFrozen: true, run: (*Server).freezeStatus},
		"guest-fsfreeze-freeze": {run: (*Server).freeze},
		"guest-fsfreeze-thaw":   {whileFrozen: true, run: func(s *Server, _ map[string]json.RawMessage) (any, error) { return s.thaw("guest-fsfreeze-thaw") }},
		"guest-shutdown":        {params: []string{"mode"}, noReply: true, whileFrozen: true, run: (*Server).shutdown},
		"guest-network-get-interfaces": {whileFrozen: true, run: func(s *Server, _ map[string]json.RawMessage) (any, error) {
			ifs, err := s.host.Interfaces()
			if ifs == nil {
				ifs = []Interface{}
			}
			return ifs, err
		}},
	}
}

// cmdError is an error answer with its class.
type cmdError struct {
	Class string `json:"class"`
	Desc  string `json:"desc"`
}

func (e *cmdError) Error() string { return e.Desc }

func genericf(format string, args ...any) *cmdError {
	return &cmdError{Class: ClassGeneric, Desc: fmt.Sprintf(format, args...)}
}

// Serve answers commands read from rw until ctx ends or rw fails; on the
// way out it thaws what is still frozen. A read that returns io.EOF (the
// host end closed) is not an end: the port stays and a host may connect
// again, so Serve waits retry and reads on.
func (s *Server) Serve(ctx context.Context, rw io.ReadWriter, retry time.Duration) error {
	defer s.ThawAll("guest agent stopped")
	var f framer
	buf := make([]byte, 4096)
	for {
		n, err := rw.Read(buf)
		if ctx.Err() != nil {
			return nil
		}
		for _, pc := range f.feed(buf[:n]) {
			if out := s.Handle(pc); len(out) > 0 {
				if _, werr := rw.Write(out); werr != nil {
					s.logf("qga: write answer: %v", werr)
				}
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF) || n == 0:
			// Nothing connected to the host end: a new connection starts
			// a new conversation.
			f.reset()
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(retry):
			}
		default:
			return fmt.Errorf("read: %w", err)
		}
	}
}

// Handle answers one framed piece; nil means no answer.
func (s *Server) Handle(pc piece) []byte {
	if pc.json == nil {
		return encode(nil, map[string]any{"error": genericf("%s", pc.err)})
	}
	answer, delimited, ok := s.dispatch(pc.json)
	if !ok {
		return nil
	}
	out := encode(nil, answer)
	if delimited {
		out = append([]byte{Sentinel}, out...)
	}
	return out
}

// HandleBytes frames and answers raw input: the conversation Serve holds,
// for tests and tools.
func (s *Server) HandleBytes(in []byte) []byte {
	var f framer
	var out []byte
	for _, pc := range f.feed(in) {
		out = append(out, s.Handle(pc)...)
	}
	return out
}

// dispatch decodes a request and runs it. ok is false when the command
// answers with silence.
func (s *Server) dispatch(raw []byte) (answer map[string]any, delimited, ok bool) {
	var req map[string]json.RawMessage
	if err := json.Unmarshal(raw, &req); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typ):
			return map[string]any{"error": genericf("QMP input must be a JSON object")}, false, true
		case errors.As(err, &syn):
			return map[string]any{"error": genericf("JSON parse error, %s", syn.Error())}, false, true
		}
		return map[string]any{"error": genericf("JSON parse error, %v", err)}, false, true
	}
	answer = map[string]any{}
	if id, ok := req["id"]; ok {
		answer["id"] = id
	}
	fail := func(e *cmdError) (map[string]any, bool, bool) {
		answer["error"] = e
		return answer, false, true
	}
	keys := sortedKeys(req)
	for _, k := range keys {
		if k != "execute" && k != "arguments" && k != "id" {
			return fail(genericf("QMP input member '%s' is unexpected", k))
		}
	}
	rawName, ok := req["execute"]
	if !ok {
		return fail(genericf("QMP input lacks member 'execute'"))
	}
	var name string
	if err := json.Unmarshal(rawName, &name); err != nil {
		return fail(genericf("QMP input member 'execute' must be a string"))
	}
	args := map[string]json.RawMessage{}
	if a, ok := req["arguments"]; ok {
		if err := json.Unmarshal(a, &args); err != nil || args == nil {
			return fail(genericf("QMP input member 'arguments' must be an object"))
		}
	}
	cmd, known := commands[name]
	if !known {
		return fail(&cmdError{Class: ClassCommandNotFound, Desc: fmt.Sprintf("The command %s has not been found", name)})
	}
	if !cmd.whileFrozen && s.isFrozen() {
		return fail(&cmdError{Class: ClassCommandNotFound, Desc: fmt.Sprintf("Command %s has been disabled", name)})
	}
	for _, k := range sortedKeys(args) {
		if !contains(cmd.params, k) {
			return fail(genericf("Parameter '%s' is unexpected", k))
		}
	}
	for _, k := range cmd.required {
		if _, ok := args[k]; !ok {
			return fail(genericf("Parameter '%s' is missing", k))
		}
	}
	ret, err := s.safeRun(cmd, args)
	if err != nil {
		var ce *cmdError
		if !errors.As(err, &ce) {
			ce = genericf("%v", err)
		}
		return fail(ce)
	}
	if cmd.noReply {
		return nil, false, false
	}
	answer["return"] = ret
	return answer, name == "guest-sync-delimited", true
}

// safeRun runs a command; a panic in it becomes an error answer, never
// the agent's end.
func (s *Server) safeRun(cmd command, args map[string]json.RawMessage) (ret any, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.logf("qga: panic in a command: %v", r)
			err = genericf("internal error")
		}
	}()
	return cmd.run(s, args)
}

func (s *Server) sync(args map[string]json.RawMessage) (any, error) {
	var id int64
	if err := json.Unmarshal(args["id"], &id); err != nil {
		return nil, genericf("Invalid parameter type for 'id', expected: integer")
	}
	return id, nil
}

// commandInfo is one entry of guest-info's supported_commands.
type commandInfo struct {
	Enabled         bool   `json:"enabled"`
	Name            string `json:"name"`
	SuccessResponse bool   `json:"success-response"`
}

func (s *Server) info(map[string]json.RawMessage) (any, error) {
	frozen := s.isFrozen()
	var list []commandInfo
	for _, name := range sortedKeys(commands) {
		c := commands[name]
		list = append(list, commandInfo{Enabled: c.whileFrozen || !frozen, Name: name, SuccessResponse: !c.noReply})
	}
	return map[string]any{"version": Version, "supported_commands": list}, nil
}

func (s *Server) hostName(map[string]json.RawMessage) (any, error) {
	h, err := s.host.Hostname()
	if err != nil {
		return nil, err
	}
	return map[string]string{"host-name": h}, nil
}

func (s *Server) fsinfo(map[string]json.RawMessage) (any, error) {
	fss, err := s.host.Filesystems()
	if err != nil {
		return nil, err
	}
	if fss == nil {
		fss = []Filesystem{}
	}
	for i := range fss {
		if fss[i].Disk == nil {
			fss[i].Disk = []DiskAddress{}
		}
	}
	return fss, nil
}

func (s *Server) isFrozen() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.frozen
}

func (s *Server) freezeStatus(map[string]json.RawMessage) (any, error) {
	if s.isFrozen() {
		return "frozen", nil
	}
	return "thawed", nil
}

// freeze freezes the host's filesystems and arms the thaw timer.
func (s *Server) freeze(map[string]json.RawMessage) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.frozen {
		return nil, genericf("the filesystems are frozen already")
	}
	n, err := s.host.Freeze()
	if err != nil {
		return nil, genericf("freeze: %v", err)
	}
	s.frozen = true
	s.thawTimer = time.AfterFunc(s.thawTimeout, func() {
		s.ThawAll(fmt.Sprintf("no guest-fsfreeze-thaw within %s", s.thawTimeout))
	})
	s.logf("qga: froze %d filesystem(s); thawing by itself in %s", n, s.thawTimeout)
	return n, nil
}

// thaw thaws what is frozen and says why in the log.
func (s *Server) thaw(why string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.frozen {
		return 0, nil
	}
	if s.thawTimer != nil {
		s.thawTimer.Stop()
		s.thawTimer = nil
	}
	n, err := s.host.Thaw()
	if err != nil {
		// Still frozen as far as anyone can tell; a retry may work.
		return 0, genericf("thaw: %v", err)
	}
	s.frozen = false
	s.logf("qga: thawed %d filesystem(s) (%s)", n, why)
	return n, nil
}

// ThawAll thaws whatever the server froze, logging why; the agent calls
// it before stopping the app, whose writes would block on a frozen disk.
func (s *Server) ThawAll(why string) {
	if _, err := s.thaw(why); err != nil {
		s.logf("qga: %v", err)
	}
}

func (s *Server) shutdown(args map[string]json.RawMessage) (any, error) {
	mode := "powerdown"
	if raw, ok := args["mode"]; ok {
		if err := json.Unmarshal(raw, &mode); err != nil {
			return nil, genericf("Invalid parameter type for 'mode', expected: string")
		}
	}
	switch mode {
	case "powerdown", "reboot", "halt":
	default:
		return nil, genericf("Invalid parameter 'mode'")
	}
	s.ThawAll("guest-shutdown")
	s.logf("qga: guest-shutdown (mode %s)", mode)
	if err := s.host.Shutdown(mode); err != nil {
		return nil, genericf("shutdown: %v", err)
	}
	return nil, nil
}

// encode appends v as one JSON line.
func encode(dst []byte, v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only our own types are encoded; this cannot happen, but an
		// answer must still be an answer.
		return append(dst, `{"error": {"class": "GenericError", "desc": "internal error"}}`+"\n"...)
	}
	return append(dst, b.Bytes()...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
