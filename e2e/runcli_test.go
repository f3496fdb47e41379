package e2e

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinyboot/tinyboot/spec"
)

// buildCLI compiles tbcompose into the test's temporary directory.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tbcompose")
	ctx, cancel := context.WithTimeout(context.Background(), buildWait)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "../cmd/tbcompose").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/tbcompose: %v\n%s", err, out)
	}
	return bin
}

// cliRun is `tbcompose run` running, its output lines tagged by stream.
type cliRun struct {
	cmd   *exec.Cmd
	lines chan string // "out: ..." and "err: ..."
	mu    sync.Mutex
	all   []string
	wg    sync.WaitGroup
}

// startCLI starts `tbcompose run ARGS` once a VM slot is free.
func startCLI(t *testing.T, bin string, args ...string) *cliRun {
	t.Helper()
	takeVMSlot(t)
	r := &cliRun{cmd: exec.Command(bin, append([]string{"run"}, args...)...), lines: make(chan string, 4096)}
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := r.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		<-vmSlots
		t.Fatal(err)
	}
	t.Logf("started %s", strings.Join(r.cmd.Args, " "))
	for tag, rd := range map[string]io.Reader{"out: ": stdout, "err: ": stderr} {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			sc := bufio.NewScanner(rd)
			for sc.Scan() {
				line := tag + stripEscapes(sc.Text())
				r.mu.Lock()
				r.all = append(r.all, line)
				r.mu.Unlock()
				select {
				case r.lines <- line:
				default:
				}
			}
		}()
	}
	t.Cleanup(func() {
		r.cmd.Process.Kill()
		r.wait()
		<-vmSlots
		if t.Failed() {
			r.mu.Lock()
			t.Logf("tbcompose run output:\n%s", strings.Join(r.all, "\n"))
			r.mu.Unlock()
		}
	})
	return r
}

// expect waits for an output line containing s.
func (r *cliRun) expect(t *testing.T, s string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line := <-r.lines:
			if strings.Contains(line, s) {
				return
			}
		case <-deadline:
			t.Fatalf("no line of tbcompose run containing %q within %v", s, timeout)
		}
	}
}

// wait waits for the command and its output and returns its exit code.
func (r *cliRun) wait() int {
	r.wg.Wait()
	err := r.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return r.cmd.ProcessState.ExitCode()
}

// output is everything the command printed so far.
func (r *cliRun) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.all, "\n")
}

// TestRunRebootLoop runs an app that fails at once under on_exit: reboot
// through the real `tbcompose run` on the microvm: run says why the guest
// reboots; --no-reboot stops there with exit code 3 and the reason; and a
// Ctrl-C while the guest reboots (no agent to answer the power button)
// stops QEMU at once.
func TestRunRebootLoop(t *testing.T) {
	t.Parallel()
	timeScenario(t)
	RequireTools(t, "go")
	bin := buildCLI(t)
	k := kernelFormat(t, imageOpts{Args: []string{"-mode", "exit", "-exit-code", "1"}, OnExit: spec.OnExitReboot})
	dir := filepath.Dir(k.Vmlinuz)

	r := startCLI(t, bin, dir, "--machine", "microvm", "--no-reboot")
	if code := r.wait(); code != 3 {
		t.Fatalf("run --no-reboot exited %d, want 3", code)
	}
	if want := "app exited with status 1 and the guest rebooted; --no-reboot stopped it"; !strings.Contains(r.output(), want) {
		t.Errorf("run --no-reboot does not say %q", want)
	}

	r = startCLI(t, bin, dir, "--machine", "microvm")
	r.expect(t, "err: tbcompose: app exited with status 1; the guest reboots: --no-reboot stops here", bootWait)
	r.expect(t, "shutdown: rebooting", stepWait)
	if err := r.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	r.expect(t, "err: tbcompose: the guest's agent is not up yet", stepWait)
	if code := r.wait(); code != 130 {
		t.Fatalf("run exited %d after Ctrl-C during the reboot, want 130", code)
	}
	if strings.Contains(r.output(), "sent power button") {
		t.Errorf("want agent lines and no power button press; output:\n%s", r.output())
	}
}
