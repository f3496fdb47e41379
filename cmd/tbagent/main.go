// Command tbagent is tinyboot's in-image init (PID 1); see package agent.
package main

import "github.com/tinyboot/tinyboot/agent"

func main() { agent.Main() }
