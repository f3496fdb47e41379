package agent

import (
	"sort"
	"syscall"
	"time"

	"github.com/tinyboot/tinyboot/spec/baked"
)

// Restart backoff: from firstBackoff doubling to maxBackoff; an app that
// ran at least maxBackoff starts again from firstBackoff.
const (
	firstBackoff = time.Second
	maxBackoff   = time.Minute
)

// killWait bounds the wait for the app to be reaped after SIGKILL; a
// process stuck in the kernel must not keep the machine from shutting
// down.
const killWait = 5 * time.Second

// defaultPath is the app's PATH unless its env sets one.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// supervise runs the app until the machine should stop, restarting it as
// app.restart says, and returns what to do then.
func (a *agent) supervise() Action {
	app := a.cfg.App
	backoff := firstBackoff
	for {
		// A shutdown request during boot or backoff wins over a (re)start.
		select {
		case ev := <-a.events:
			a.log.Printf("shutdown: %s", ev.Reason)
			return ev.Action
		default:
		}
		started := a.clock.Now()
		argv := append([]string{app.Path}, app.Args...)
		priv, err := a.privileges()
		var pid int
		var exited <-chan ExitStatus
		if err == nil {
			pid, exited, err = a.sys.StartApp(app.Path, argv, a.appEnv(), priv)
		}
		var st ExitStatus
		if err != nil {
			a.log.Printf("app: start %s: %v", app.Path, err)
			st = ExitStatus{Code: 127} // as a shell reports "not found"
		} else {
			a.log.Printf("app: started %s (pid %d)", app.Path, pid)
			select {
			case st = <-exited:
				a.log.Printf("app: %s", st)
			case ev := <-a.events:
				a.log.Printf("shutdown: %s", ev.Reason)
				a.stopApp(pid, exited)
				return ev.Action
			}
		}
		if !restart(app.Restart, st) {
			act := ParseAction(app.OnExit)
			a.log.Printf("shutdown: app ended (on_exit %s)", act)
			return act
		}
		if a.clock.Now().Sub(started) >= maxBackoff {
			backoff = firstBackoff
		}
		a.log.Printf("app: restarting in %s", backoff)
		select {
		case <-a.clock.After(backoff):
		case ev := <-a.events:
			a.log.Printf("shutdown: %s", ev.Reason)
			return ev.Action
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// restart applies app.restart: "always", "on-failure" (non-zero exit or
// signal) or "never" (anything else).
func restart(policy string, st ExitStatus) bool {
	switch policy {
	case "always":
		return true
	case "on-failure":
		return st.Failed()
	}
	return false
}

// stopApp asks the app to stop with SIGTERM and kills it after
// app.stop_timeout.
func (a *agent) stopApp(pid int, exited <-chan ExitStatus) {
	timeout := a.cfg.App.StopTimeout.Std()
	a.log.Printf("shutdown: stopping app (SIGTERM, timeout %s)", timeout)
	if err := a.sys.Kill(pid, syscall.SIGTERM); err != nil {
		a.log.Printf("shutdown: SIGTERM to pid %d: %v", pid, err)
	}
	select {
	case st := <-exited:
		a.log.Printf("app: %s", st)
		return
	case <-a.clock.After(timeout):
	}
	a.log.Printf("shutdown: app still running after %s; sending SIGKILL", timeout)
	if err := a.sys.Kill(pid, syscall.SIGKILL); err != nil {
		a.log.Printf("shutdown: SIGKILL to pid %d: %v", pid, err)
	}
	select {
	case st := <-exited:
		a.log.Printf("app: %s", st)
	case <-a.clock.After(killWait):
		a.log.Printf("shutdown: app not reaped %s after SIGKILL; going on", killWait)
	}
}

// appEnv is PATH, HOME, USER, LOGNAME, TZ (see userEnv), the tinyboot
// mount variables, then the app's env and the machine's own env over it
// (either may override any of the rest), sorted so the app sees the same
// environment on every boot.
func (a *agent) appEnv() []string {
	env := map[string]string{"PATH": defaultPath}
	a.userEnv(env)
	if a.isoMounted {
		env["TINYBOOT_ISO"] = baked.ISOMount
	}
	if a.persMounted {
		env["TINYBOOT_PERSISTENT"] = baked.PersistentMount
	}
	for k, v := range a.cfg.App.Env {
		env[k] = v
	}
	for k, v := range a.instanceEnv {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// shutdown stops everything the agent started and performs act. It only
// returns if the final syscall fails (or in tests).
func (a *agent) shutdown(act Action) {
	// Whatever the app left behind would keep /persistent busy. Its files
	// close only as it exits, so wait (briefly) until nothing is left.
	_ = a.sys.Kill(-1, syscall.SIGKILL)
	a.waitOthersGone()
	a.stopBackground()
	a.sys.Sync()
	if a.persMounted {
		if err := a.sys.Unmount(baked.PersistentMount, 0); err != nil {
			// Busy: make it read-only so nothing more is lost.
			if rerr := a.sys.Mount("", baked.PersistentMount, "", msRemount|msRdonly, ""); rerr != nil {
				a.log.Printf("shutdown: unmount %s: %v; remount read-only: %v", baked.PersistentMount, err, rerr)
			} else {
				a.log.Printf("shutdown: synced and remounted %s read-only (unmount: %v)", baked.PersistentMount, err)
			}
		} else {
			a.log.Printf("shutdown: synced and unmounted %s", baked.PersistentMount)
		}
		a.persMounted = false
	}
	if a.isoMounted {
		if err := a.sys.Unmount(baked.ISOMount, 0); err != nil {
			a.log.Printf("shutdown: unmount %s: %v", baked.ISOMount, err)
		}
		a.isoMounted = false
	}
	if a.net != nil {
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer a.recoverLog("network stop")
			a.net.Stop()
		}()
		select {
		case <-done:
			if a.net.Links() > 0 && usesDHCP(a.cfg.Network) {
				a.log.Printf("shutdown: released DHCP leases")
			}
		case <-a.clock.After(releaseWait):
			a.log.Printf("shutdown: DHCP release still pending after %s; going on", releaseWait)
		}
		a.net = nil
	}
	a.log.Printf("shutdown: %s", act.verb())
	if err := a.sys.Reboot(act); err != nil {
		a.log.Printf("shutdown: %s: %v", act, err)
	}
}

// waitOthersGone polls until no user process but PID 1 is alive, at most
// othersWait. (kill(-1, 0) cannot tell: kernel threads always answer it.)
func (a *agent) waitOthersGone() {
	deadline := a.clock.Now().Add(othersWait)
	for {
		if n, err := a.sys.Leftovers(); err != nil || n == 0 {
			return
		}
		if !a.clock.Now().Before(deadline) {
			a.log.Printf("shutdown: processes still running %s after SIGKILL; going on", othersWait)
			return
		}
		<-a.clock.After(10 * time.Millisecond)
	}
}

// othersWait bounds waiting for the app's leftovers to be gone after
// SIGKILL.
const othersWait = 2 * time.Second

// releaseWait bounds giving DHCP leases back at shutdown.
const releaseWait = 2 * time.Second

// msRemount is MS_REMOUNT.
const msRemount = 32
