package spec

import (
	"bytes"
	"fmt"
	"os"
)

// archive checks each archive entry's keyring: that it exists and looks
// like OpenPGP keys (armored, or a binary public-key packet). The
// signatures themselves are checked at build time.
func (c *checker) archive() {
	for i, a := range c.s.Archive {
		ptr := fmt.Sprintf("/archive/%d/keyring", i)
		if _, ok := c.exists(ptr, a.Keyring, wantFile); !ok {
			continue
		}
		b, err := os.ReadFile(c.s.Resolve(a.Keyring))
		if err != nil {
			c.errorf(ptr, "", "%s: %v", a.Keyring, err)
			continue
		}
		if !looksLikeOpenPGPKeys(b) {
			c.errorf(ptr, "export the archive's signing keys with gpg --export --armor, or use its .gpg keyring file",
				"%s is not an OpenPGP keyring", a.Keyring)
		}
	}
}

// looksLikeOpenPGPKeys recognises an armored key block or a binary
// keyring, whose first packet is a public key (tag 6, old or new format).
func looksLikeOpenPGPKeys(b []byte) bool {
	if bytes.Contains(b[:min(len(b), 4096)], []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")) {
		return true
	}
	if len(b) < 2 || b[0]&0x80 == 0 {
		return false
	}
	if b[0]&0x40 != 0 {
		return b[0]&0x3f == 6
	}
	return (b[0]>>2)&0x0f == 6
}
