package secureboot

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tinyboot/tinyboot/compose/authenticode"
	"github.com/tinyboot/tinyboot/internal/fsutil"
)

// KeyNames are the key pairs of a key set, parent first: PK signs the
// PK and KEK updates, KEK signs the db update, db signs images.
var KeyNames = []string{"PK", "KEK", "db"}

// keyBits is the RSA size of created keys: what every firmware accepts.
const keyBits = 2048

// validity of created certificates. Firmware does not check expiry; a
// long one spares users a renewal nothing enforces.
const validity = 10 * 365 * 24 * time.Hour

// OwnerFile holds the key set's signature owner GUID.
const OwnerFile = "GUID"

// Create writes a new key set into dir (created if needed): for each of
// PK, KEK and db an RSA key (NAME.key, mode 0600), a self-signed
// certificate (NAME.crt), its signature list (NAME.esl) and the signed
// authenticated variable update enrolling it (NAME.auth), plus the owner
// GUID. It refuses to overwrite an existing key set.
func Create(dir, commonName string, now time.Time) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, n := range KeyNames {
		for _, ext := range []string{".key", ".crt", ".esl", ".auth"} {
			p := filepath.Join(dir, n+ext)
			if _, err := os.Lstat(p); err == nil {
				return fmt.Errorf("%s already exists; keys create never overwrites keys: choose an empty directory", p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	var owner GUID
	if _, err := rand.Read(owner[:]); err != nil {
		return err
	}
	owner[6] = owner[6]&0x0f | 0x40 // version 4 (random)
	owner[8] = owner[8]&0x3f | 0x80 // RFC 4122 variant

	signers := map[string]*authenticode.Signer{}
	files := map[string][]byte{OwnerFile: []byte(owner.String() + "\n")}
	for _, n := range KeyNames {
		s, err := newSigner(fmt.Sprintf("%s %s", commonName, n), now)
		if err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
		signers[n] = s
		der, err := x509.MarshalPKCS8PrivateKey(s.Key)
		if err != nil {
			return err
		}
		files[n+".key"] = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		files[n+".crt"] = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Cert.Raw})
		files[n+".esl"] = SignatureList(owner, s.Cert.Raw)
	}
	// PK signs itself (enrolling it leaves setup mode) and KEK; KEK
	// signs db.
	parent := map[string]string{"PK": "PK", "KEK": "PK", "db": "KEK"}
	for _, n := range KeyNames {
		u, err := SignUpdate(signers[parent[n]], n, VendorOf(n), files[n+".esl"], now)
		if err != nil {
			return err
		}
		files[n+".auth"] = u.Marshal()
	}
	for name, data := range files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".key") {
			mode = 0o600
		}
		if err := fsutil.WriteFileAtomicMode(filepath.Join(dir, name), data, mode); err != nil {
			return err
		}
	}
	return nil
}

// VendorOf is the vendor GUID of a key set variable: db belongs to the
// image security database, PK and KEK are global.
func VendorOf(name string) GUID {
	if name == "db" || name == "dbx" {
		return ImageSecurityDatabase
	}
	return GlobalVariable
}

// newSigner makes an RSA key and a self-signed certificate for it.
func newSigner(cn string, now time.Time) (*authenticode.Signer, error) {
	key, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-time.Hour).UTC().Truncate(time.Second),
		NotAfter:              now.Add(validity).UTC().Truncate(time.Second),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &authenticode.Signer{Key: key, Cert: cert}, nil
}
