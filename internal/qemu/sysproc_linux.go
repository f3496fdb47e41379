package qemu

import "syscall"

// sysProcAttr puts QEMU in its own process group, so a Ctrl-C at the
// terminal reaches only our process (which turns it into an ACPI power
// button press), and kills QEMU if our process dies without cleaning up.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
