package uki

import "bytes"

// aarch64NOP is the AArch64 NOP instruction, little-endian. The arm64
// toolchain pads the header area of systemd's linuxaa64.efi.stub with it
// rather than with zeros.
var aarch64NOP = []byte{0x1f, 0x20, 0x03, 0xd5}

// isHeaderPadding reports whether b, the header bytes after the section
// table, is filler that new section headers may overwrite: zeros, or
// whole AArch64 NOPs (nothing executes the header area; the linker only
// fills its gap with the instruction it pads code with).
func isHeaderPadding(b []byte) bool {
	if bytes.Equal(b, make([]byte, len(b))) {
		return true
	}
	// The section table ends on a 4-byte boundary (40-byte headers after
	// a 4-aligned optional header), so the NOP words are aligned with b.
	if len(b)%len(aarch64NOP) != 0 {
		return false
	}
	for i := 0; i < len(b); i += len(aarch64NOP) {
		w := b[i : i+len(aarch64NOP)]
		if !bytes.Equal(w, aarch64NOP) && !bytes.Equal(w, []byte{0, 0, 0, 0}) {
			return false
		}
	}
	return true
}
