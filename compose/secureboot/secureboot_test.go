package secureboot

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tinyboot/tinyboot/compose/authenticode"
)

func TestGUID(t *testing.T) {
	const s = "8be4df61-93ca-11d2-aa0d-00e098032b8c"
	g := MustGUID(s)
	// EFI_GUID stores Data1..Data3 little-endian.
	if want := []byte{0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11, 0xaa, 0x0d}; !bytes.Equal(g[:10], want) {
		t.Errorf("bytes % x", g[:10])
	}
	if g.String() != s {
		t.Errorf("String() = %s", g)
	}
	for _, bad := range []string{"", "8be4df61-93ca-11d2-aa0d", "zzzzzzzz-93ca-11d2-aa0d-00e098032b8c"} {
		if _, err := ParseGUID(bad); err == nil {
			t.Errorf("ParseGUID(%q) succeeded", bad)
		}
	}
}

func TestCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	if err := Create(dir, "test", now); err != nil {
		t.Fatal(err)
	}
	certs := map[string]*x509.Certificate{}
	for _, n := range KeyNames {
		fi, err := os.Stat(filepath.Join(dir, n+".key"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s.key mode %04o, want 0600", n, fi.Mode().Perm())
		}
		s, probs := authenticode.LoadSigner(filepath.Join(dir, n+".key"), filepath.Join(dir, n+".crt"), now)
		if s == nil || len(probs) > 0 {
			t.Fatalf("%s: %v", n, probs)
		}
		if s.Cert.Subject.CommonName != "test "+n {
			t.Errorf("%s subject %q", n, s.Cert.Subject)
		}
		certs[n] = s.Cert
		esl, _ := os.ReadFile(filepath.Join(dir, n+".esl"))
		sigs, err := ParseSignatureLists(esl)
		if err != nil || len(sigs) != 1 || sigs[0].Type != CertX509 || !bytes.Equal(sigs[0].Data, s.Cert.Raw) {
			t.Errorf("%s.esl: %v %+v", n, err, sigs)
		}
	}
	owner, _ := os.ReadFile(filepath.Join(dir, OwnerFile))
	parent := map[string]string{"PK": "PK", "KEK": "PK", "db": "KEK"}
	for _, n := range KeyNames {
		b, _ := os.ReadFile(filepath.Join(dir, n+".auth"))
		u, err := ParseAuth(n, VendorOf(n), b)
		if err != nil {
			t.Fatalf("%s.auth: %v", n, err)
		}
		if !u.Time.Equal(now) || u.Attributes != 0x27 {
			t.Errorf("%s.auth time %v attributes %#x", n, u.Time, u.Attributes)
		}
		esl, _ := os.ReadFile(filepath.Join(dir, n+".esl"))
		if !bytes.Equal(u.Data, esl) {
			t.Errorf("%s.auth does not carry %s.esl", n, n)
		}
		sigs, _ := ParseSignatureLists(u.Data)
		if g := strings.TrimSpace(string(owner)); sigs[0].Owner.String() != g {
			t.Errorf("%s owner %s, GUID file %s", n, sigs[0].Owner, g)
		}
		if err := u.Verify(certs[parent[n]].Raw); err != nil {
			t.Errorf("%s.auth not signed by %s: %v", n, parent[n], err)
		}
		other := "KEK"
		if parent[n] == "KEK" {
			other = "PK"
		}
		if err := u.Verify(certs[other].Raw); err == nil {
			t.Errorf("%s.auth verifies against %s too", n, other)
		}
		// EDK2 rejects a time-based write whose SignedData does not have
		// a two-byte length and SHA-256 as its first digest algorithm at
		// byte 13 (AuthService.c, VerifyTimeBasedPayload).
		sha256OID := []byte{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01}
		if u.Signature[1] != 0x82 || !bytes.Equal(u.Signature[13:13+len(sha256OID)], sha256OID) {
			t.Errorf("%s.auth SignedData layout EDK2 refuses: % x", n, u.Signature[:24])
		}
		// A change to the payload breaks the signature.
		u.Data = append(bytes.Clone(u.Data), 0)
		if err := u.Verify(certs[parent[n]].Raw); err == nil {
			t.Errorf("%s.auth verifies with changed data", n)
		}
	}
	if err := Create(dir, "test", now); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second Create into the same directory: %v", err)
	}
	// Keys are PEM PKCS#8, which sbsign reads too.
	b, _ := os.ReadFile(filepath.Join(dir, "db.key"))
	if blk, _ := pem.Decode(b); blk == nil || blk.Type != "PRIVATE KEY" {
		t.Errorf("db.key is not a PEM PRIVATE KEY")
	}
}

func TestParseAuthErrors(t *testing.T) {
	for name, b := range map[string][]byte{
		"short":      make([]byte, 10),
		"wrong type": append(make([]byte, 16), []byte{40, 0, 0, 0, 0, 2, 2, 0}...),
	} {
		if len(b) < 40 {
			b = append(b, make([]byte, 40-len(b))...)
		}
		if _, err := ParseAuth("PK", GlobalVariable, b); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}
