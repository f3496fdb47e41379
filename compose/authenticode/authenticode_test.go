package authenticode

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/pe"
	"encoding/binary"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// syntheticPE builds a small PE32+ EFI application whose section table
// lists its sections in the reverse of file order, with trailing bytes
// after the last section.
func syntheticPE(t testing.TB, trailing int) []byte {
	t.Helper()
	const fileAlign, hdrSize = 0x200, 0x200
	var b bytes.Buffer
	dos := make([]byte, 0x40)
	dos[0], dos[1] = 'M', 'Z'
	binary.LittleEndian.PutUint32(dos[0x3c:], 0x40)
	b.Write(dos)
	b.WriteString("PE\x00\x00")
	fh := pe.FileHeader{Machine: pe.IMAGE_FILE_MACHINE_AMD64, NumberOfSections: 2, SizeOfOptionalHeader: 240, Characteristics: 0x22}
	oh := pe.OptionalHeader64{
		Magic: 0x20b, AddressOfEntryPoint: 0x1000, SectionAlignment: 0x1000, FileAlignment: fileAlign,
		SizeOfImage: 0x3000, SizeOfHeaders: hdrSize, Subsystem: 10, NumberOfRvaAndSizes: 16,
		SizeOfCode: fileAlign, SizeOfInitializedData: fileAlign, MajorSubsystemVersion: 1,
	}
	// Later-in-file section first in the table.
	secs := []pe.SectionHeader32{
		{Name: [8]byte{'.', 'd', 'a', 't', 'a'}, VirtualSize: 0x180, VirtualAddress: 0x2000, SizeOfRawData: fileAlign, PointerToRawData: hdrSize + fileAlign, Characteristics: 0x40000040},
		{Name: [8]byte{'.', 't', 'e', 'x', 't'}, VirtualSize: 0x100, VirtualAddress: 0x1000, SizeOfRawData: fileAlign, PointerToRawData: hdrSize, Characteristics: 0x60000020},
	}
	for _, v := range []any{fh, oh, secs} {
		if err := binary.Write(&b, binary.LittleEndian, v); err != nil {
			t.Fatal(err)
		}
	}
	out := make([]byte, hdrSize+2*fileAlign+trailing)
	copy(out, b.Bytes())
	for i := hdrSize; i < len(out); i++ {
		out[i] = byte(i * 7)
	}
	out[hdrSize] = 0xc3 // ret
	return out
}

// testPair makes an RSA key and a self-signed certificate valid from
// notBefore for a year, and writes them as PEM files.
func testPair(t testing.TB, bits int, cn string, notBefore time.Time) (keyPath, certPath string, s *Signer) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(int64(bits)*1000 + int64(len(cn))), Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notBefore.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	dir := t.TempDir()
	keyPath, certPath = filepath.Join(dir, cn+".key"), filepath.Join(dir, cn+".crt")
	writePEM(t, keyPath, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key), 0o600)
	writePEM(t, certPath, "CERTIFICATE", der, 0o644)
	return keyPath, certPath, &Signer{Key: key, Cert: cert}
}

func writePEM(t testing.TB, p, typ string, der []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func TestSignVerify(t *testing.T) {
	_, _, s := testPair(t, 2048, "db", time.Now().Add(-time.Hour))
	_, _, other := testPair(t, 2048, "other", time.Now().Add(-time.Hour))
	for _, trailing := range []int{0, 5, 512} {
		unsigned := syntheticPE(t, trailing)
		want, err := Digest(unsigned)
		if err != nil {
			t.Fatal(err)
		}
		signed, err := s.Sign(unsigned)
		if err != nil {
			t.Fatalf("trailing %d: Sign: %v", trailing, err)
		}
		if !bytes.Equal(signed[:len(unsigned)][:0x40], unsigned[:0x40]) || len(signed)%8 != 0 {
			t.Errorf("trailing %d: signed image has length %d (not 8-aligned) or changed DOS header", trailing, len(signed))
		}
		img, err := Read(signed)
		if err != nil {
			t.Fatal(err)
		}
		// The hash of a signed image leaves out the table; padding to 8
		// bytes is trailing data and so part of it when there was any.
		if trailing%8 == 0 && !bytes.Equal(img.Digest, want) {
			t.Errorf("trailing %d: digest of signed image %x, of unsigned %x", trailing, img.Digest, want)
		}
		sig, err := img.Verify(s.Cert)
		if err != nil {
			t.Fatalf("trailing %d: Verify: %v", trailing, err)
		}
		if sig.Serial.Cmp(s.Cert.SerialNumber) != 0 || !strings.Contains(sig.Issuer, "CN=db") || sig.Signer == nil {
			t.Errorf("signer %v %q", sig.Serial, sig.Issuer)
		}
		if _, err := img.Verify(other.Cert); err == nil {
			t.Errorf("trailing %d: verified against a foreign certificate", trailing)
		}
		f, err := pe.NewFile(bytes.NewReader(signed))
		if err != nil {
			t.Fatalf("debug/pe cannot read the signed image: %v", err)
		}
		oh := f.OptionalHeader.(*pe.OptionalHeader64)
		if got := peChecksum(signed, 0x40+4+20+64); got != oh.CheckSum {
			t.Errorf("CheckSum %#x, computed %#x", oh.CheckSum, got)
		}
		if d := oh.DataDirectory[dataDirSecurity]; int(d.VirtualAddress+d.Size) != len(signed) || d.VirtualAddress%8 != 0 {
			t.Errorf("certificate table %+v in a %d-byte file", d, len(signed))
		}

		again, err := s.Sign(signed)
		if err != nil {
			t.Fatalf("re-sign: %v", err)
		}
		if !bytes.Equal(again, signed) {
			t.Errorf("trailing %d: signing a signed image did not replace its signature with the same one", trailing)
		}
	}
}

func TestTamper(t *testing.T) {
	_, _, s := testPair(t, 2048, "db", time.Now().Add(-time.Hour))
	signed, err := s.Sign(syntheticPE(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		off    int
		verify bool
	}{
		{"section byte", 0x200 + 3, false},
		{"header byte", 0x40 + 4 + 20 + 4, false},
		{"second section", 0x400 + 0x100, false},
		{"checksum is not hashed", 0x40 + 4 + 20 + 64, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Clone(signed)
			b[tt.off] ^= 0xff
			img, err := Read(b)
			if err != nil {
				t.Fatal(err)
			}
			_, err = img.Verify(s.Cert)
			if (err == nil) != tt.verify {
				t.Errorf("Verify = %v, want success %v", err, tt.verify)
			}
		})
	}
	img, err := Read(syntheticPE(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Signatures) != 0 {
		t.Errorf("unsigned image has %d signatures", len(img.Signatures))
	}
	if _, err := img.Verify(s.Cert); err == nil {
		t.Error("unsigned image verified")
	}
}

// TestSignerCA: firmware accepts an image signed by a key whose
// certificate the db entry issued.
func TestSignerCA(t *testing.T) {
	_, _, ca := testPair(t, 2048, "ca", time.Now().Add(-time.Hour))
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(77), Subject: pkix.Name{CommonName: "leaf"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	signed, err := (&Signer{Key: key, Cert: leaf}).Sign(syntheticPE(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	img, _ := Read(signed)
	if _, err := img.Verify(ca.Cert); err != nil {
		t.Errorf("leaf signature does not verify against its CA: %v", err)
	}
}

func TestDeterministic(t *testing.T) {
	_, _, s := testPair(t, 3072, "db", time.Now().Add(-time.Hour))
	a, err := s.Sign(syntheticPE(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Sign(syntheticPE(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("two signatures of the same image differ")
	}
}

func TestLoadSigner(t *testing.T) {
	now := time.Now()
	key, cert, _ := testPair(t, 2048, "db", now.Add(-time.Hour))
	otherKey, _, _ := testPair(t, 2048, "other", now.Add(-time.Hour))
	_, future, _ := testPair(t, 2048, "future", now.Add(time.Hour))
	futureKey := strings.TrimSuffix(future, ".crt") + ".key"
	small, smallCert, _ := testPair(t, 1024, "small", now.Add(-time.Hour))
	dir := t.TempDir()
	open := filepath.Join(dir, "open.key")
	b, _ := os.ReadFile(key)
	os.WriteFile(open, b, 0o644)
	os.Chmod(open, 0o644)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecKey := filepath.Join(dir, "ec.key")
	writePEM(t, ecKey, "PRIVATE KEY", ecDER, 0o600)
	enc := filepath.Join(dir, "enc.key")
	writePEM(t, enc, "ENCRYPTED PRIVATE KEY", []byte{1}, 0o600)

	tests := []struct {
		name      string
		key, cert string
		now       time.Time
		wantErr   string // substring of an error problem; "" for none
		wantWarn  string
	}{
		{"good", key, cert, now, "", ""},
		{"mismatch", otherKey, cert, now, "does not belong to certificate", ""},
		{"expired", key, cert, now.AddDate(2, 0, 0), "", "expired"},
		{"not yet valid", futureKey, future, now, "", "not valid before"},
		{"readable by others", open, cert, now, "", "readable by group or others"},
		{"ec key", ecKey, cert, now, "want RSA", ""},
		{"small key", small, smallCert, now, "1024 bits", ""},
		{"encrypted", enc, cert, now, "encrypted", ""},
		{"missing key", filepath.Join(dir, "nope.key"), cert, now, "no such file", ""},
		{"missing cert", key, filepath.Join(dir, "nope.crt"), now, "no such file", ""},
		{"cert is a key", key, key, now, "not a CERTIFICATE", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, probs := LoadSigner(tt.key, tt.cert, tt.now)
			var errs, warns []string
			for _, p := range probs {
				if p.Warning {
					warns = append(warns, p.Error())
				} else {
					errs = append(errs, p.Error())
				}
			}
			all := strings.Join(errs, "\n")
			if tt.wantErr == "" && len(errs) > 0 || tt.wantErr != "" && !strings.Contains(all, tt.wantErr) {
				t.Errorf("errors %q, want %q", errs, tt.wantErr)
			}
			if (s == nil) != (len(errs) > 0) {
				t.Errorf("signer %v with errors %q", s != nil, errs)
			}
			if w := strings.Join(warns, "\n"); tt.wantWarn == "" && w != "" || !strings.Contains(w, tt.wantWarn) {
				t.Errorf("warnings %q, want %q", warns, tt.wantWarn)
			}
		})
	}
}

// needTool finds an sbsigntool program, failing under CI when it is
// missing.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not installed (package sbsigntool)", name)
		}
		t.Skipf("%s not installed (package sbsigntool)", name)
	}
	return p
}

const realStub = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub"

// TestSbsigntool cross-checks with Debian's sbsigntool on the systemd
// stub: sbverify accepts our signature, and our reader accepts sbsign's
// and computes the digest it signed.
func TestSbsigntool(t *testing.T) {
	sbverify, sbsign := needTool(t, "sbverify"), needTool(t, "sbsign")
	stub := readStub(t)
	keyPath, certPath, s := testPair(t, 2048, "db", time.Now().Add(-time.Hour))
	_, otherCert, _ := testPair(t, 2048, "other", time.Now().Add(-time.Hour))
	dir := t.TempDir()
	for name, img := range map[string][]byte{"stub": stub, "synthetic": syntheticPE(t, 0)} {
		t.Run(name, func(t *testing.T) {
			ours, err := s.Sign(img)
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, name+".signed.efi")
			os.WriteFile(p, ours, 0o644)
			out, err := exec.Command(sbverify, "--cert", certPath, p).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Signature verification OK") {
				t.Errorf("sbverify --cert on our signature: %v\n%s", err, out)
			}
			if out, err := exec.Command(sbverify, "--cert", otherCert, p).CombinedOutput(); err == nil {
				t.Errorf("sbverify accepted our signature against a foreign certificate:\n%s", out)
			}

			in := filepath.Join(dir, name+".efi")
			os.WriteFile(in, img, 0o644)
			theirs := filepath.Join(dir, name+".sbsign.efi")
			if out, err := exec.Command(sbsign, "--key", keyPath, "--cert", certPath, "--output", theirs, in).CombinedOutput(); err != nil {
				t.Fatalf("sbsign: %v\n%s", err, out)
			}
			tb, _ := os.ReadFile(theirs)
			got, err := Read(tb)
			if err != nil {
				t.Fatalf("read sbsign's image: %v", err)
			}
			if len(got.Signatures) != 1 {
				t.Fatalf("found %d signatures in sbsign's image", len(got.Signatures))
			}
			if !bytes.Equal(got.Signatures[0].Digest, got.Digest) {
				t.Errorf("sbsign signed digest %x, we compute %x", got.Signatures[0].Digest, got.Digest)
			}
			if _, err := got.Verify(s.Cert); err != nil {
				t.Errorf("our verifier rejects sbsign's signature: %v", err)
			}
			mine, _ := Read(ours)
			if !bytes.Equal(mine.Digest, got.Digest) {
				t.Errorf("sbsign's image digest %x, ours %x", got.Digest, mine.Digest)
			}
		})
	}
}

func TestDigestIgnoresChecksum(t *testing.T) {
	a := syntheticPE(t, 0)
	b := bytes.Clone(a)
	binary.LittleEndian.PutUint32(b[0x40+4+20+64:], 0xdeadbeef)
	da, _ := Digest(a)
	db, _ := Digest(b)
	if !bytes.Equal(da, db) {
		t.Error("digest covers the checksum field")
	}
	sum := sha256.Sum256(a)
	if bytes.Equal(da, sum[:]) {
		t.Error("digest is the plain file hash")
	}
}

// readStub reads systemd's UEFI stub, failing under CI when it is missing.
func readStub(t *testing.T) []byte {
	t.Helper()
	stub, err := os.ReadFile(realStub)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v (package systemd-boot-efi)", err)
		}
		t.Skip(err)
	}
	return stub
}
