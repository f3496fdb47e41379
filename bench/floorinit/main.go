// Command floorinit is the floor image's /init for the bench's floor part:
// it prints one line on the console and powers the machine off, nothing
// else. Booted in place of tinyboot's agent (`tbcompose build --agent`),
// in an image with the same kernel and the same initramfs content, it
// marks the least time from QEMU's start to a first line of PID 1, so the
// bench can say how much the agent adds on top.
package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// Line is what the bench waits for on the console.
const Line = "floor: /init started"

func main() {
	// The kernel opens /dev/console for PID 1 before devtmpfs exists, and
	// tinyboot's initramfs has no device nodes: mount it, open the console.
	_ = os.MkdirAll("/dev", 0o755)
	_ = unix.Mount("devtmpfs", "/dev", "devtmpfs", 0, "")
	if con, err := os.OpenFile("/dev/console", os.O_WRONLY, 0); err == nil {
		con.WriteString(Line + "\n")
		con.Close()
	} else {
		os.Stdout.WriteString(Line + "\n")
	}
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	select {} // PID 1 must not exit
}
