// Command tbagent is tinyboot's in-image init (PID 1); see package agent.
// Started by the kernel as its module helper instead (not PID 1), it
// loads the requested module and exits.
package main

import (
	"os"

	"github.com/tinyboot/tinyboot/agent"
)

func main() {
	if agent.IsModprobe() {
		os.Exit(agent.Modprobe(os.Args[1:]))
	}
	agent.Main()
}
