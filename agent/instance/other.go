//go:build !linux

package instance

import (
	"context"
	"errors"
)

// Load reads the machine's own configuration; only the agent, inside a
// tinyboot machine, calls it. The package builds elsewhere for the
// composer, which shares its parsers.
func Load(ctx context.Context) (Data, error) {
	return Data{}, errors.New("instance: a machine's own configuration is read on Linux only, by the agent")
}
