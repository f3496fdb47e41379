package authenticode

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"
)

// RSA modulus sizes accepted for signing keys. EDK2 (OVMF) verifies
// Authenticode with OpenSSL, which takes any of these; UEFI's own key
// format (EFI_CERT_RSA2048) and most real firmware expect 2048, so the
// lower bound is also the common case, and beyond 4096 some firmware
// fails to verify.
const (
	MinKeyBits = 2048
	MaxKeyBits = 4096
)

// Problem is one thing wrong with a key pair; a warning does not stop a
// build.
type Problem struct {
	Field   string // "key" or "cert"
	Warning bool
	Message string
	Hint    string
}

func (p Problem) Error() string {
	if p.Hint == "" {
		return p.Message
	}
	return p.Message + "; " + p.Hint
}

// LoadSigner reads a PEM private key and certificate and checks that they
// are a usable Secure Boot signing pair at time now. It returns the signer
// (nil if any problem is an error) and every problem found.
func LoadSigner(keyPath, certPath string, now time.Time) (*Signer, []Problem) {
	var probs []Problem
	add := func(field string, warn bool, hint, format string, args ...any) {
		probs = append(probs, Problem{Field: field, Warning: warn, Message: fmt.Sprintf(format, args...), Hint: hint})
	}
	key, err := readKey(keyPath)
	if err != nil {
		add("key", false, err.hint, "%s: %v", keyPath, err.err)
	} else if fi, err := os.Stat(keyPath); err == nil && fi.Mode().Perm()&0o077 != 0 {
		add("key", true, "chmod 600 "+keyPath, "private key %s is readable by group or others (mode %04o)", keyPath, fi.Mode().Perm())
	}
	cert, cerr := ReadCertificate(certPath)
	if cerr != nil {
		add("cert", false, "", "%v", cerr)
	} else {
		switch {
		case now.Before(cert.NotBefore):
			add("cert", true, "firmware without a clock set may still accept it; check the build machine's time", "certificate %s is not valid before %s", certPath, cert.NotBefore.UTC().Format(time.RFC3339))
		case now.After(cert.NotAfter):
			add("cert", true, "UEFI firmware does not check expiry, but renew it (tbcompose keys create) before it matters", "certificate %s expired on %s", certPath, cert.NotAfter.UTC().Format(time.RFC3339))
		}
		if _, ok := cert.PublicKey.(*rsa.PublicKey); !ok {
			add("cert", false, "UEFI Secure Boot verifies RSA signatures only", "certificate %s has a %T public key, want RSA", certPath, cert.PublicKey)
		}
	}
	if key != nil && cert != nil {
		if pub, ok := cert.PublicKey.(*rsa.PublicKey); ok && !pub.Equal(&key.PublicKey) {
			add("key", false, "give the key the certificate was made for", "private key %s does not belong to certificate %s (subject %q)", keyPath, certPath, cert.Subject.String())
		}
	}
	for _, p := range probs {
		if !p.Warning {
			return nil, probs
		}
	}
	return &Signer{Key: key, Cert: cert}, probs
}

// keyError is why a key file cannot be used, and what to do.
type keyError struct {
	err  error
	hint string
}

func readKey(p string) (*rsa.PrivateKey, *keyError) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, &keyError{err: err}
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, &keyError{err: errors.New("not a PEM file"), hint: "give a PEM private key (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)"}
	}
	var k any
	switch block.Type {
	case "ENCRYPTED PRIVATE KEY":
		return nil, &keyError{err: errors.New("the private key is encrypted"),
			hint: "tinyboot signs unattended: decrypt it into a file only you can read (openssl pkey -in KEY -out KEY.plain; chmod 600 KEY.plain)"}
	case "RSA PRIVATE KEY":
		if _, ok := block.Headers["DEK-Info"]; ok {
			return nil, &keyError{err: errors.New("the private key is encrypted"),
				hint: "decrypt it into a file only you can read (openssl rsa -in KEY -out KEY.plain; chmod 600 KEY.plain)"}
		}
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		return nil, &keyError{err: errors.New("the key is an EC key, want RSA"), hint: "UEFI Secure Boot verifies RSA signatures only; make an RSA key (tbcompose keys create)"}
	default:
		return nil, &keyError{err: fmt.Errorf("PEM block %q is not a private key", block.Type)}
	}
	if err != nil {
		return nil, &keyError{err: err}
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, &keyError{err: fmt.Errorf("the key is a %T, want RSA", k), hint: "UEFI Secure Boot verifies RSA signatures only; make an RSA key (tbcompose keys create)"}
	}
	if n := rk.N.BitLen(); n < MinKeyBits || n > MaxKeyBits {
		return nil, &keyError{err: fmt.Errorf("RSA key has %d bits", n), hint: fmt.Sprintf("use %d to %d bits (2048 is what firmware expects)", MinKeyBits, MaxKeyBits)}
	}
	return rk, nil
}

// ReadCertificate reads the first certificate of a PEM (or DER) file.
func ReadCertificate(p string) (*x509.Certificate, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	der := b
	if block, _ := pem.Decode(b); block != nil {
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s: PEM block %q is not a CERTIFICATE", p, block.Type)
		}
		der = block.Bytes
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return c, nil
}

// ID names the signer's public half for cache keys: the certificate's
// SHA-256. It never depends on the private key's bytes.
func (s *Signer) ID() string {
	h := sha256.Sum256(s.Cert.Raw)
	return hex.EncodeToString(h[:])
}
