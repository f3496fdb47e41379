//go:build unix

package fsutil

import (
	"os"

	"github.com/google/renameio/v2"
)

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	return renameio.WriteFile(path, data, mode)
}
