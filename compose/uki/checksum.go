package uki

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// checksum computes the PE image checksum (the algorithm of
// CheckSumMappedFile): a 16-bit ones'-complement style sum of the file's
// little-endian words with the CheckSum field taken as zero, plus the file
// length. UEFI firmware ignores it; we fill it in so the header is honest
// rather than carrying the stub's stale value.
type checksum struct{ sum uint32 }

// add sums b, which must start at an even file offset. An odd trailing byte
// counts as a word whose high byte is zero, which is what the file holds
// when b is followed by zero padding, as all our sections are.
func (c *checksum) add(b []byte) {
	s := c.sum
	for len(b) >= 2 {
		s += uint32(binary.LittleEndian.Uint16(b))
		s = s&0xffff + s>>16
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0])
		s = s&0xffff + s>>16
	}
	c.sum = s
}

// addReader sums size bytes of r from offset 0.
func (c *checksum) addReader(r io.ReaderAt, size int64) error {
	buf := make([]byte, 64<<10) // even, so every chunk starts at an even offset
	for off := int64(0); off < size; {
		n := int(min(int64(len(buf)), size-off))
		got, err := r.ReadAt(buf[:n], off)
		if got < n {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("read at %d: %w", off+int64(got), err)
		}
		c.add(buf[:n])
		off += int64(n)
	}
	return nil
}

// final returns the checksum of a file of the given total size.
func (c *checksum) final(size int64) uint32 {
	s := c.sum&0xffff + c.sum>>16
	return s + uint32(size)
}

// imageChecksum returns the PE checksum of a complete image held in memory,
// with the CheckSum field at file offset fieldOff (even) taken as zero.
func imageChecksum(b []byte, fieldOff int) uint32 {
	var c checksum
	c.add(b[:fieldOff])
	var zero [4]byte
	c.add(zero[:])
	c.add(b[fieldOff+4:])
	return c.final(int64(len(b)))
}
