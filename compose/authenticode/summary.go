package authenticode

import (
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Summary describes an image's signature state for people and JSON.
type Summary struct {
	Signed bool `json:"signed"`
	// Digest is the image's Authenticode SHA-256 hash, computed.
	Digest  string          `json:"digest"`
	Signers []SignerSummary `json:"signers,omitempty"`
	img     *Image
}

// SignerSummary is one signature of an image.
type SignerSummary struct {
	Subject string `json:"subject"`
	Issuer  string `json:"issuer"`
	Serial  string `json:"serial"`
	// Digest is the image hash the signature signs; it differs from the
	// image's when the image changed after signing.
	Digest string `json:"signed_digest"`
}

// Summarize reads the signatures of the PE image b.
func Summarize(b []byte) (*Summary, error) {
	img, err := Read(b)
	if err != nil {
		return nil, err
	}
	s := &Summary{Signed: len(img.Signatures) > 0, Digest: hex.EncodeToString(img.Digest), img: img}
	for _, sig := range img.Signatures {
		ss := SignerSummary{Issuer: sig.Issuer, Serial: sig.Serial.Text(16), Digest: hex.EncodeToString(sig.Digest)}
		if sig.Signer != nil {
			ss.Subject = sig.Signer.Subject.String()
		}
		s.Signers = append(s.Signers, ss)
	}
	return s, nil
}

// Verify checks the summarized image against cert, as Image.Verify does.
func (s *Summary) Verify(cert *x509.Certificate) error {
	if s.img == nil {
		return errors.New("no image read")
	}
	_, err := s.img.Verify(cert)
	return err
}

// Load reads and checks a signing key pair (see LoadSigner), returning
// the errors among its problems as one; warnings are left to validation.
func Load(keyPath, certPath string) (*Signer, error) {
	s, probs := LoadSigner(keyPath, certPath, time.Now())
	if s != nil {
		return s, nil
	}
	var errs []error
	for _, p := range probs {
		if !p.Warning {
			errs = append(errs, fmt.Errorf("%s: %w", p.Field, p))
		}
	}
	return nil, errors.Join(errs...)
}
