package assemble

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/tinyboot/tinyboot/compose/esp"
	"github.com/tinyboot/tinyboot/compose/uki"
)

// bootAlign is the file alignment of the UKI's kernel and initrd, and of
// every file in the ESP: a CD sector, so an ISO9660 file can be an alias
// of either section's bytes inside the ESP.
const bootAlign = 2048

// extent is a byte range.
type extent struct{ off, size int64 }

// bootFiles are the UKI's kernel, initrd and command line as the BIOS
// loader and the kernel format see them.
type bootFiles struct {
	// kernel and initrd are where the .linux and .initrd sections' data
	// lie in the ESP image.
	kernel, initrd extent
	// cmdline is the .cmdline section without its terminating NUL.
	cmdline string
}

// bootFiles finds the UKI inside the ESP and its sections inside the UKI.
// It fails unless both data ranges start on a CD sector, which buildUKI
// and esp.Build guarantee.
func (p *Parts) bootFiles() (*bootFiles, error) {
	espR := bytes.NewReader(p.ESP)
	fat, err := esp.Open(espR)
	if err != nil {
		return nil, err
	}
	off, size, err := fat.Extent(p.BootPath)
	if err != nil {
		return nil, err
	}
	img, err := uki.Read(io.NewSectionReader(espR, off, size))
	if err != nil {
		return nil, fmt.Errorf("UKI in the ESP: %w", err)
	}
	bf := &bootFiles{}
	for _, want := range []struct {
		name string
		ext  *extent
	}{{uki.SectionLinux, &bf.kernel}, {uki.SectionInitrd, &bf.initrd}} {
		sec, ok := img.Section(want.name)
		if !ok {
			return nil, fmt.Errorf("UKI in the ESP has no %s section", want.name)
		}
		*want.ext = extent{off: off + sec.Offset, size: sec.Size}
		if want.ext.off%bootAlign != 0 {
			return nil, fmt.Errorf("UKI section %s at ESP byte %d, not on a %d-byte boundary", want.name, want.ext.off, bootAlign)
		}
	}
	if sec, ok := img.Section(uki.SectionCmdline); ok {
		b, err := sec.ReadAll()
		if err != nil {
			return nil, fmt.Errorf("UKI %s: %w", uki.SectionCmdline, err)
		}
		bf.cmdline = strings.TrimRight(string(b), "\x00")
	}
	return bf, nil
}
