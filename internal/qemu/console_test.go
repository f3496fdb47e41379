package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"testing"
	"time"
)

func TestConsoleLines(t *testing.T) {
	var tee bytes.Buffer
	c := NewConsole(&tee)
	chunks := []string{"\x1b[2JBdsDxe: lo", "ading\r\n", "line two\r\nline", " three\n\nprompt> "}
	for _, ch := range chunks {
		if n, err := c.Write([]byte(ch)); n != len(ch) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	want := []string{"\x1b[2JBdsDxe: loading", "line two", "line three", ""}
	if got := c.Lines(); !reflect.DeepEqual(got, want) {
		t.Errorf("Lines = %q, want %q", got, want)
	}
	c.Close()
	if got := c.Tail(2); !reflect.DeepEqual(got, []string{"", "prompt> "}) {
		t.Errorf("Tail after Close = %q", got)
	}
	if tee.String() != "\x1b[2JBdsDxe: loading\r\nline two\r\nline three\n\nprompt> " {
		t.Errorf("tee got %q", tee.String())
	}
}

func TestConsoleWaitForLine(t *testing.T) {
	c := NewConsole(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() {
		for i := range 5 {
			fmt.Fprintf(c, "step %d\n", i)
			time.Sleep(5 * time.Millisecond)
		}
		c.Close()
	}()
	// Successive waits consume the console in order.
	for _, want := range []string{"step 1", "step 3"} {
		got, err := c.WaitForLine(ctx, regexp.MustCompile(`^step [13]$`))
		if err != nil || got != want {
			t.Fatalf("WaitForLine = %q, %v; want %q", got, err, want)
		}
	}
	// step 2 came before the last match: it is gone.
	if _, err := c.WaitForLine(ctx, regexp.MustCompile(`step 2`)); !errors.Is(err, ErrConsoleClosed) {
		t.Fatalf("err = %v, want ErrConsoleClosed", err)
	}
	// A failed wait consumed nothing.
	if got, err := c.WaitForLine(ctx, regexp.MustCompile(`step 4`)); err != nil || got != "step 4" {
		t.Fatalf("WaitForLine = %q, %v", got, err)
	}
}

func TestConsoleWaitForLineDeadline(t *testing.T) {
	c := NewConsole(nil)
	fmt.Fprint(c, "nothing useful\n")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.WaitForLine(ctx, regexp.MustCompile("never")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
}

func TestConsoleLongLinesAndLimits(t *testing.T) {
	c := NewConsole(nil)
	c.Write(bytes.Repeat([]byte("x"), maxLineLen+10))
	if n := len(c.Lines()); n != 1 {
		t.Fatalf("a line longer than the limit gave %d lines, want it cut", n)
	}
	for i := range maxKeptLine + 5 {
		fmt.Fprintf(c, "l%d\n", i)
	}
	lines := c.Lines()
	if len(lines) != maxKeptLine || lines[len(lines)-1] != fmt.Sprintf("l%d", maxKeptLine+4) {
		t.Fatalf("kept %d lines ending %q", len(lines), lines[len(lines)-1])
	}
	// Matching still works across dropped lines.
	got, err := c.WaitForLine(context.Background(), regexp.MustCompile(`^l20003$`))
	if err != nil || got != "l20003" {
		t.Fatalf("WaitForLine = %q, %v", got, err)
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	w.n++
	return 0, errors.New("broken")
}

func TestConsoleFailingTee(t *testing.T) {
	w := &failWriter{}
	c := NewConsole(w)
	fmt.Fprint(c, "a\n")
	fmt.Fprint(c, "b\n")
	if w.n != 1 {
		t.Errorf("tee written %d times after failing, want 1", w.n)
	}
	if got := c.Lines(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("Lines = %q", got)
	}
}
