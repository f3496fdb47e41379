// Package syslog sends the console's lines to a remote syslog server as
// RFC 5424 messages, over UDP (RFC 5426, one message a datagram) or TCP
// (RFC 6587 octet counting). Lines are buffered from boot, in a bounded
// buffer that drops the oldest and counts them, until the server can be
// reached, so the early boot is not lost.
package syslog

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Severity is an RFC 5424 severity.
type Severity int

// The severities tinyboot uses.
const (
	Err     Severity = 3
	Warning Severity = 4
	Info    Severity = 6
)

// Facility is an RFC 5424 facility.
type Facility int

// The facilities tinyboot uses: the app logs as user, the agent as daemon.
const (
	User   Facility = 1
	Daemon Facility = 3
)

// Message is one line to send.
type Message struct {
	Time     time.Time
	Facility Facility
	Severity Severity
	// AppName is "tinyboot" for the agent, the app's name for its output.
	AppName string
	// ProcID is the sender's pid, "" for unknown.
	ProcID string
	Text   string
}

// Size limits of one formatted message: RFC 5426 asks receivers to take
// 2048 octets over UDP; over TCP a long line is kept in one message up to
// a larger bound.
const (
	MaxUDP = 2048
	MaxTCP = 8192
)

// Format renders m as RFC 5424 for hostname, at most max octets (the
// text is cut at a character boundary):
//
//	<30>1 2026-12-01T19:40:00.123456Z host tinyboot 1 - - network: eth0: leased ...
func Format(m Message, hostname string, max int) []byte {
	var b strings.Builder
	b.WriteByte('<')
	b.WriteString(strconv.Itoa(int(m.Facility)*8 + int(m.Severity)))
	b.WriteString(">1 ")
	b.WriteString(m.Time.UTC().Format("2006-01-02T15:04:05.000000Z07:00"))
	b.WriteByte(' ')
	b.WriteString(field(hostname, 255))
	b.WriteByte(' ')
	b.WriteString(field(m.AppName, 48))
	b.WriteByte(' ')
	b.WriteString(field(m.ProcID, 128))
	b.WriteString(" - - ") // MSGID, STRUCTURED-DATA
	head := b.String()
	text := strings.TrimRight(m.Text, "\r\n")
	if room := max - len(head); len(text) > room {
		text = cut(text, room)
	}
	return []byte(head + text)
}

// field makes s a valid header field: printable US-ASCII without spaces,
// at most n octets, "-" when empty.
func field(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r <= ' ' || r > '~' {
			return '_'
		}
		return r
	}, s)
	if len(s) > n {
		s = s[:n]
	}
	if s == "" {
		return "-"
	}
	return s
}

// cut shortens s to at most n octets without splitting a character.
func cut(s string, n int) string {
	if n <= 0 {
		return ""
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Frame prepares a formatted message for the transport: over TCP the
// octet count and a space go first (RFC 6587 3.4.1); a UDP datagram is the
// message itself.
func Frame(network string, msg []byte) []byte {
	if network != "tcp" {
		return msg
	}
	return append([]byte(strconv.Itoa(len(msg))+" "), msg...)
}
