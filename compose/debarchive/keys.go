package debarchive

import (
	"bytes"
	_ "embed"
	"fmt"
	"os"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// debianKeys are Debian's archive signing keys, exported from the
// debian-archive-keyring package (version 2023.3+deb12u2,
// /usr/share/keyrings/debian-archive-keyring.gpg) when this code was
// written. They sign the InRelease files of bookworm, trixie and their
// security and updates suites:
//
//	B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8  Archive Automatic Signing Key (12/bookworm), expires 2031-01-19
//	05AB90340C0C5E797F44A8C8254CF3B5AEC0A8F0  Security Archive Automatic Signing Key (12/bookworm), expires 2031-01-19
//	4D64FEC119C2029067D6E791F8D2585B8783D481  Stable Release Key (12/bookworm), expires 2031-01-21
//	04B54C3CDCA79751B16BC6B5225629DF75B188BD  Archive Automatic Signing Key (13/trixie), expires 2035-03-28
//	5E04A1E3223A19A20706E20F9904613D4CCE68C6  Security Archive Automatic Signing Key (13/trixie), expires 2035-03-28
//	41587F7DB8C774BCCF131416762F67A0B2C39DE4  Stable Release Key (13/trixie), expires 2033-03-22
//
// When Debian rotates its keys (a new release), export the new ones the
// same way (gpg --export --armor FINGERPRINT... from the newest
// debian-archive-keyring) and update this list.
//
//go:embed debian-archive-keys.asc
var debianKeys []byte

// DebianKeyring returns Debian's archive signing keys built into tbcompose.
func DebianKeyring() (openpgp.EntityList, error) {
	return ParseKeyring(debianKeys)
}

// ParseKeyring reads OpenPGP public keys, armored or binary (a .gpg
// keyring file as /usr/share/keyrings holds).
func ParseKeyring(b []byte) (openpgp.EntityList, error) {
	var list openpgp.EntityList
	var err error
	if bytes.Contains(b[:min(len(b), 1024)], []byte("-----BEGIN PGP")) {
		list, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(b))
	} else {
		list, err = openpgp.ReadKeyRing(bytes.NewReader(b))
	}
	if err != nil {
		return nil, fmt.Errorf("not an OpenPGP keyring: %w", err)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("not an OpenPGP keyring: no public keys in it")
	}
	return list, nil
}

// ReadKeyring reads an OpenPGP keyring file; errors name the file and say
// what it must hold.
func ReadKeyring(path string) (openpgp.EntityList, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keyring %s: %w", path, err)
	}
	list, err := ParseKeyring(b)
	if err != nil {
		return nil, fmt.Errorf("keyring %s: %w; give the archive's public signing keys, armored (gpg --export --armor) or binary (a .gpg file from /usr/share/keyrings)", path, err)
	}
	return list, nil
}
