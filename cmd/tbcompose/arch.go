package main

import (
	"fmt"
	"slices"

	"github.com/tinyboot/tinyboot/internal/arch"
	"github.com/tinyboot/tinyboot/spec"
)

// overrideArch makes s build for the architectures --arch names instead of
// its own arch.
func overrideArch(s *spec.Spec, names []string) error {
	for i, n := range names {
		if _, err := arch.Lookup(n); err != nil {
			return fmt.Errorf("--arch: %w", err)
		}
		if slices.Contains(names[:i], n) {
			return fmt.Errorf("--arch: %s is named twice", n)
		}
	}
	s.Arch = spec.Arches(slices.Clone(names))
	return nil
}
