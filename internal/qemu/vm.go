package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// VM is a running QEMU machine.
type VM struct {
	// Console is the machine's serial console output.
	Console *Console
	// Args is the command line QEMU was started with (argv[0] as given in
	// Config.QEMU).
	Args []string

	cmd     *exec.Cmd
	qmp     *QMP
	dir     string
	logFile *os.File
	stderr  *tailWriter

	mu       sync.Mutex
	cause    string // first SHUTDOWN event's reason
	panicked bool
	killed   bool

	procDone chan struct{} // cmd.Wait has returned
	waitErr  error
	done     chan struct{} // exit is set and everything is cleaned up
	exit     Exit
}

// Start boots a machine. Defaults are filled in as Config documents:
// firmware found with FindFirmware, AccelAuto resolved with ResolveAccel.
// ctx bounds only the start-up (probe, QMP handshake); the machine runs
// until it shuts down or is stopped with Powerdown, Quit or Kill.
//
// The machine gets a private temporary directory for its copy of the
// firmware vars and its QMP socket; it is removed when QEMU exits.
func Start(ctx context.Context, cfg Config) (*VM, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	qemuPath, err := LookPath(cfg.QEMU)
	if err != nil {
		return nil, err
	}
	if cfg.IsArm64() {
		if cfg.Firmware == (Firmware{}) {
			if cfg.Firmware, err = FindFirmwareArm64(""); err != nil {
				return nil, err
			}
		}
		cfg.Accel = resolveAccelArm64(cfg.Accel)
	}
	uefi := cfg.FirmwareKind == FirmwareUEFI
	if uefi && cfg.Firmware == (Firmware{}) {
		if cfg.Firmware, err = FindFirmware(""); err != nil {
			return nil, err
		}
	}
	if cfg.Accel, err = ResolveAccel(ctx, qemuPath, cfg.Accel); err != nil {
		return nil, err
	}

	vm := &VM{
		stderr:   &tailWriter{max: 4 << 10},
		procDone: make(chan struct{}),
		done:     make(chan struct{}),
	}
	ok := false
	defer func() {
		if !ok {
			vm.cleanup()
		}
	}()
	if vm.dir, err = os.MkdirTemp("", "tbqemu-"); err != nil {
		return nil, fmt.Errorf("start qemu: %w", err)
	}
	var vars string
	if uefi {
		if vars, err = cfg.Firmware.copyVars(vm.dir); err != nil {
			return nil, err
		}
	}
	sock := filepath.Join(vm.dir, "qmp.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("start qemu: listen for qmp: %w", err)
	}
	defer ln.Close()

	var tees []io.Writer
	if cfg.ConsoleLog != "" {
		if vm.logFile, err = os.Create(cfg.ConsoleLog); err != nil {
			return nil, fmt.Errorf("console log: %w", err)
		}
		tees = append(tees, vm.logFile)
	}
	if cfg.Console != nil {
		tees = append(tees, cfg.Console)
	}
	vm.Console = NewConsole(io.MultiWriter(tees...))

	vm.Args, err = BuildArgs(cfg, Instance{Vars: vars, QMPSocket: sock})
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(qemuPath, vm.Args[1:]...)
	cmd.Stdout = vm.Console
	cmd.Stderr = vm.stderr
	if cfg.Stderr != nil {
		cmd.Stderr = io.MultiWriter(vm.stderr, cfg.Stderr)
	}
	cmd.SysProcAttr = sysProcAttr()
	var stdin io.WriteCloser
	if cfg.Stdin != nil {
		// Our own copy rather than cmd.Stdin: exec's Wait would wait for a
		// read from the terminal that may never come. A terminal is never
		// handed to QEMU directly, which would switch it to raw mode.
		if stdin, err = cmd.StdinPipe(); err != nil {
			return nil, fmt.Errorf("start qemu: %w", err)
		}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", qemuPath, err)
	}
	vm.cmd = cmd
	if stdin != nil {
		go func() {
			io.Copy(stdin, cfg.Stdin)
			stdin.Close()
		}()
	}
	go func() {
		vm.waitErr = cmd.Wait()
		close(vm.procDone)
	}()

	conn, err := vm.accept(ctx, ln)
	if err != nil {
		return nil, err
	}
	if vm.qmp, err = NewQMP(ctx, conn, vm.onEvent); err != nil {
		conn.Close()
		return nil, vm.startErr(err)
	}
	ok = true
	go vm.finish()
	return vm, nil
}

// accept waits for QEMU to connect to the QMP socket.
func (vm *VM) accept(ctx context.Context, ln *net.UnixListener) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, vm.startErr(fmt.Errorf("accept qmp connection: %w", r.err))
		}
		return r.c, nil
	case <-vm.procDone:
		ln.Close()
		return nil, vm.startErr(errors.New("qemu exited during start-up"))
	case <-ctx.Done():
		ln.Close()
		return nil, vm.startErr(ctx.Err())
	}
}

// startErr stops a machine that failed to start and describes why,
// quoting QEMU's diagnostics. When QEMU exited on its own (a bad argument,
// a host port it could not bind), that is the error, not the broken QMP
// connection it left behind.
func (vm *VM) startErr(err error) error {
	if vm.cmd != nil {
		select {
		case <-vm.procDone:
			err = fmt.Errorf("qemu exited during start-up (%v)", vm.waitErr)
		case <-time.After(500 * time.Millisecond):
			vm.cmd.Process.Kill()
			<-vm.procDone
		}
	}
	tail := vm.stderr.String()
	if m := hostfwdFailRE.FindStringSubmatch(tail); m != nil {
		return fmt.Errorf("start qemu: %w: QEMU could not bind the forward %s (%s)", ErrPortInUse, m[1], tail)
	}
	if tail != "" {
		return fmt.Errorf("start qemu: %w: %s", err, tail)
	}
	return fmt.Errorf("start qemu: %w", err)
}

// hostfwdFailRE matches QEMU's complaint about a port forward it could
// not set up, which names the rule ("tcp:127.0.0.1:8080-:80").
var hostfwdFailRE = regexp.MustCompile(`Could not set up host forwarding rule '([^']*)'`)

func (vm *VM) cleanup() {
	if vm.logFile != nil {
		vm.logFile.Close()
	}
	if vm.dir != "" {
		os.RemoveAll(vm.dir)
	}
}

func (vm *VM) onEvent(ev Event) {
	slog.Debug("qmp event", "event", ev.Name, "data", string(ev.Data))
	vm.mu.Lock()
	defer vm.mu.Unlock()
	switch ev.Name {
	case "SHUTDOWN":
		var d struct {
			Reason string `json:"reason"`
		}
		if err := json.Unmarshal(ev.Data, &d); err == nil && vm.cause == "" {
			vm.cause = d.Reason
		}
	case "GUEST_PANICKED":
		vm.panicked = true
	}
}

// finish waits for QEMU to exit, records how the machine ended and cleans
// up.
func (vm *VM) finish() {
	<-vm.procDone
	// QEMU sends SHUTDOWN before exiting; the connection's end means every
	// event has been read. The timeout only guards against a wedged peer.
	select {
	case <-vm.qmp.Done():
	case <-time.After(2 * time.Second):
	}
	vm.qmp.Close()
	vm.Console.Close()
	vm.cleanup()

	vm.mu.Lock()
	e := Exit{Cause: vm.cause, Code: vm.cmd.ProcessState.ExitCode()}
	switch {
	case vm.panicked:
		e.Reason = ExitPanic
	case vm.cause != "":
		e.Reason = ReasonForShutdown(vm.cause)
		if e.Reason == ExitFailed {
			e.Err = fmt.Errorf("qemu shut down with cause %q: %s", vm.cause, vm.stderr)
		}
	case vm.killed:
		e.Reason = ExitKilled
	default:
		e.Reason = ExitFailed
		e.Err = fmt.Errorf("qemu ended without shutting the machine down (%v): %s", vm.waitErr, vm.stderr)
	}
	vm.mu.Unlock()
	vm.exit = e
	close(vm.done)
}

// Wait waits for QEMU to exit and says how the machine ended.
func (vm *VM) Wait() Exit {
	<-vm.done
	return vm.exit
}

// Done is closed when QEMU has exited and Wait returns at once.
func (vm *VM) Done() <-chan struct{} { return vm.done }

// QMP returns the machine's monitor connection, for commands this package
// has no method for.
func (vm *VM) QMP() *QMP { return vm.qmp }

// Powerdown presses the ACPI power button. It returns once QEMU has
// accepted the request; whether and when the guest powers off is up to
// the guest (see Wait).
func (vm *VM) Powerdown(ctx context.Context) error {
	if _, err := vm.qmp.Execute(ctx, "system_powerdown", nil); err != nil {
		return fmt.Errorf("power down: %w", err)
	}
	return nil
}

// CtrlAltDel types Ctrl-Alt-Del on the machine's keyboard (the i8042
// controller), Firecracker's only stop signal. Linux turns it into SIGINT
// to PID 1, which tinyboot's agent handles as a graceful shutdown and
// reboot (under NoReboot the machine then ends with ExitReboot). It
// returns once QEMU has sent the keys.
func (vm *VM) CtrlAltDel(ctx context.Context) error {
	keys := []map[string]string{
		{"type": "qcode", "data": "ctrl"}, {"type": "qcode", "data": "alt"}, {"type": "qcode", "data": "delete"},
	}
	if _, err := vm.qmp.Execute(ctx, "send-key", map[string]any{"keys": keys}); err != nil {
		return fmt.Errorf("send ctrl-alt-del: %w", err)
	}
	return nil
}

// Quit asks QEMU to quit, as pulling the plug would, and waits for it to
// exit. When ctx ends first QEMU is killed.
func (vm *VM) Quit(ctx context.Context) error {
	_, err := vm.qmp.Execute(ctx, "quit", nil)
	if err != nil && !errors.Is(err, ErrQMPClosed) {
		vm.Kill()
		<-vm.done
		return fmt.Errorf("quit: %w; killed qemu", err)
	}
	select {
	case <-vm.done:
		return nil
	case <-ctx.Done():
		vm.Kill()
		<-vm.done
		return fmt.Errorf("quit: %w; killed qemu", ctx.Err())
	}
}

// Kill kills QEMU at once. It does not wait; see Wait.
func (vm *VM) Kill() error {
	vm.mu.Lock()
	vm.killed = true
	vm.mu.Unlock()
	if err := vm.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill qemu: %w", err)
	}
	return nil
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) > w.max {
		w.buf = append([]byte(nil), w.buf[len(w.buf)-w.max:]...)
	}
	return len(p), nil
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.TrimSpace(string(w.buf))
}
