package deb

import (
	"bytes"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// pseudoText is compressible but not trivially so, so blocks have real
// LZMA2 content.
func pseudoText(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("the quick brown fox jumps over a lazy dog kernel module initramfs block stream")
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(" \n"[r.IntN(2)])
	}
	return b.Bytes()[:n]
}

func TestParallelXZ(t *testing.T) {
	plain := pseudoText(200_000)
	one := compress(t, ".xz", plain)
	// Two concatenated streams with stream padding between and after
	// them, as xz(1) accepts.
	multi := append(append(append(append([]byte{}, one...), 0, 0, 0, 0), compress(t, ".xz", plain[:5000])...), 0, 0, 0, 0, 0, 0, 0, 0)
	tests := []struct {
		name   string
		in     []byte
		want   []byte
		blocks int
	}{
		{"one stream", one, plain, 49},
		{"two streams with padding", multi, append(append([]byte{}, plain...), plain[:5000]...), 51},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blocks, err := parseXZIndex(bytes.NewReader(tt.in), int64(len(tt.in)))
			if err != nil {
				t.Fatal(err)
			}
			if len(blocks) != tt.blocks {
				t.Fatalf("%d blocks, want %d", len(blocks), tt.blocks)
			}
			for _, workers := range []int{2, 3, 8} {
				p, err := newParallelXZ(bytes.NewReader(tt.in), int64(len(tt.in)), workers)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(p)
				if err != nil {
					t.Fatal(err)
				}
				if err := p.Close(); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, tt.want) {
					t.Fatalf("workers %d: output differs (%d bytes, want %d)", workers, len(got), len(tt.want))
				}
			}
		})
	}
}

func TestParallelXZErrors(t *testing.T) {
	plain := pseudoText(100_000)
	good := compress(t, ".xz", plain)
	blocks, err := parseXZIndex(bytes.NewReader(good), int64(len(good)))
	if err != nil {
		t.Fatal(err)
	}
	b := blocks[3]
	checkAt := b.offset + (b.unpadded+3)&^3 - 8 // CRC64 of block 3, after the padding
	dataAt := b.offset + 40
	flip := func(at int64) []byte {
		c := append([]byte(nil), good...)
		c[at] ^= 1
		return c
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"bad check", flip(checkAt), "xz block at offset " + itoa(b.offset) + ": xz: checksum error"},
		{"bad data", flip(dataAt), "xz block at offset " + itoa(b.offset)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := newParallelXZ(bytes.NewReader(tt.in), int64(len(tt.in)), 2)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			got, err := io.ReadAll(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			// Everything before the bad block is delivered intact.
			if len(got) < 3*4096 || !bytes.Equal(got[:3*4096], plain[:3*4096]) {
				t.Fatalf("got %d good bytes before the error", len(got))
			}
		})
	}
	// A damaged index is not an error here: the sequential decoder takes
	// over and reports it.
	damaged := flip(int64(len(good) - 20))
	if _, err := newParallelXZ(bytes.NewReader(damaged), int64(len(damaged)), 2); err != errNotParallel {
		t.Fatalf("damaged index: err = %v, want errNotParallel", err)
	}
}

// TestParallelXZClose checks that closing mid-stream stops the decoders
// rather than hanging or leaking them.
func TestParallelXZClose(t *testing.T) {
	in := compress(t, ".xz", pseudoText(300_000))
	p, err := newParallelXZ(bytes.NewReader(in), int64(len(in)), 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(p, make([]byte, 10_000)); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Read(make([]byte, 1)); err == nil {
		t.Fatal("Read after Close succeeded")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
