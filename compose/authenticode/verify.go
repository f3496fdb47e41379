package authenticode

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
)

// Signature is an Authenticode signature read from a PE image.
type Signature struct {
	// Signer is the certificate the SignerInfo names, from the
	// signature's certificate set (nil if it is not there).
	Signer *x509.Certificate
	// Issuer and Serial identify the signer as the SignerInfo does.
	Issuer string
	Serial *big.Int
	// Digest is the image hash the signature carries (SHA-256).
	Digest []byte
	// Certificates are all the certificates the signature carries.
	Certificates []*x509.Certificate

	signedAttrs []byte // the authenticated attributes as a SET
	sig         []byte
	content     []byte // SpcIndirectDataContent without its header
	messageDig  []byte
}

// Image is what Read finds in a PE image.
type Image struct {
	// Digest is the image's Authenticode SHA-256 hash, computed.
	Digest []byte
	// Signatures are the image's Authenticode signatures, in table order;
	// none for an unsigned image.
	Signatures []*Signature
}

// Read computes the Authenticode hash of the PE image b and decodes the
// signatures in its certificate table.
func Read(b []byte) (*Image, error) {
	l, err := parse(b)
	if err != nil {
		return nil, err
	}
	img := &Image{Digest: l.imageHash(b, sha256.New())}
	table := b[l.certOff : l.certOff+l.certSize]
	for len(table) > 0 {
		if len(table) < winCertHeaderSize {
			return nil, errors.New("certificate table: truncated WIN_CERTIFICATE")
		}
		n := int64(binary.LittleEndian.Uint32(table))
		rev := binary.LittleEndian.Uint16(table[4:])
		typ := binary.LittleEndian.Uint16(table[6:])
		if n < winCertHeaderSize || n > int64(len(table)) {
			return nil, fmt.Errorf("certificate table: WIN_CERTIFICATE length %d out of range", n)
		}
		if rev == winCertRevision2 && typ == winCertTypePKCSSigned {
			sig, err := parseSignature(table[winCertHeaderSize:n])
			if err != nil {
				return nil, fmt.Errorf("certificate table: %w", err)
			}
			img.Signatures = append(img.Signatures, sig)
		}
		table = table[min(alignUp(n, certAlign), int64(len(table))):]
	}
	return img, nil
}

// parseSignature decodes a ContentInfo holding an Authenticode SignedData.
func parseSignature(der []byte) (*Signature, error) {
	// The DER may be followed by padding inside dwLength.
	top, _, err := parseElement(der)
	if err != nil {
		return nil, err
	}
	ci, err := expect(top.full, tagSequence, 2, "ContentInfo")
	if err != nil {
		return nil, err
	}
	if o, err := parseOID(ci[0]); err != nil || !o.Equal(oidSignedData) {
		return nil, errors.New("ContentInfo is not PKCS#7 SignedData")
	}
	sdw, err := expect(ci[1].full, tagContext0, 1, "SignedData")
	if err != nil {
		return nil, err
	}
	s, encap, err := parseSignedData(sdw[0].full)
	if err != nil {
		return nil, err
	}
	if o, err := parseOID(encap[0]); err != nil || !o.Equal(oidSpcIndirectData) {
		return nil, errors.New("signed content is not SpcIndirectDataContent")
	}
	if len(encap) < 2 {
		return nil, errors.New("SignedData carries no SpcIndirectDataContent")
	}
	spcw, err := expect(encap[1].full, tagContext0, 1, "SpcIndirectDataContent")
	if err != nil {
		return nil, err
	}
	spc, err := expect(spcw[0].full, tagSequence, 2, "SpcIndirectDataContent")
	if err != nil {
		return nil, err
	}
	di, err := expect(spc[1].full, tagSequence, 2, "DigestInfo")
	if err != nil {
		return nil, err
	}
	if alg, err := expect(di[0].full, tagSequence, 1, "digest algorithm"); err != nil {
		return nil, err
	} else if o, err := parseOID(alg[0]); err != nil || !o.Equal(oidSHA256) {
		return nil, fmt.Errorf("image digest algorithm %v is not SHA-256", o)
	}
	if di[1].tag != tagOctetString {
		return nil, errors.New("DigestInfo digest is not an OCTET STRING")
	}
	s.Digest, s.content = di[1].contents, spcw[0].contents
	return s, nil
}

// parseSignedData decodes a DER SignedData: its certificates and first
// SignerInfo, and the elements of its encapsulated ContentInfo.
func parseSignedData(der []byte) (*Signature, []element, error) {
	sd, err := expect(der, tagSequence, 4, "SignedData")
	if err != nil {
		return nil, nil, err
	}
	encap, err := expect(sd[2].full, tagSequence, 1, "SignedData content")
	if err != nil {
		return nil, nil, err
	}
	s := &Signature{}
	rest := sd[3:]
	if rest[0].tag == tagContext0 {
		certs, err := rest[0].children()
		if err != nil {
			return nil, nil, fmt.Errorf("certificates: %w", err)
		}
		for _, c := range certs {
			cert, err := x509.ParseCertificate(c.full)
			if err != nil {
				return nil, nil, fmt.Errorf("certificate: %w", err)
			}
			s.Certificates = append(s.Certificates, cert)
		}
		rest = rest[1:]
	}
	if len(rest) > 0 && rest[0].tag == 0xa1 { // CRLs
		rest = rest[1:]
	}
	if len(rest) == 0 {
		return nil, nil, errors.New("SignedData has no SignerInfos")
	}
	signers, err := expect(rest[0].full, tagSet, 1, "SignerInfos")
	if err != nil {
		return nil, nil, err
	}
	si, err := expect(signers[0].full, tagSequence, 5, "SignerInfo")
	if err != nil {
		return nil, nil, err
	}
	ias, err := expect(si[1].full, tagSequence, 2, "issuerAndSerialNumber")
	if err != nil {
		return nil, nil, err
	}
	s.Serial = new(big.Int)
	if _, err := asn1.Unmarshal(ias[1].full, &s.Serial); err != nil {
		return nil, nil, fmt.Errorf("signer serial: %w", err)
	}
	s.Issuer = nameString(ias[0].full)
	for _, c := range s.Certificates {
		if bytes.Equal(c.RawIssuer, ias[0].full) && c.SerialNumber.Cmp(s.Serial) == 0 {
			s.Signer = c
		}
	}
	i := 3
	if si[i].tag == tagContext0 {
		s.signedAttrs = append([]byte{tagSet}, si[i].full[1:]...)
		attrs, err := si[i].children()
		if err != nil {
			return nil, nil, fmt.Errorf("authenticated attributes: %w", err)
		}
		for _, a := range attrs {
			kv, err := a.children()
			if err != nil || len(kv) != 2 {
				return nil, nil, errors.New("malformed authenticated attribute")
			}
			if o, _ := parseOID(kv[0]); o.Equal(oidMessageDigest) {
				v, err := kv[1].children()
				if err != nil || len(v) != 1 || v[0].tag != tagOctetString {
					return nil, nil, errors.New("malformed messageDigest attribute")
				}
				s.messageDig = v[0].contents
			}
		}
		i++
	}
	if len(si) < i+2 || si[i+1].tag != tagOctetString {
		return nil, nil, errors.New("SignerInfo has no signature")
	}
	s.sig = si[i+1].contents
	return s, encap, nil
}

// nameString renders a DER distinguished name for people.
func nameString(der []byte) string {
	var rdns pkix.RDNSequence
	if _, err := asn1.Unmarshal(der, &rdns); err != nil {
		return fmt.Sprintf("%x", der)
	}
	var n pkix.Name
	n.FillFromRDNSequence(&rdns)
	return n.String()
}

// Verify checks that the image's first signature is a valid signature of
// its content by a certificate that is cert or was issued by cert (the
// way firmware checks an image against a db entry), and that the digest
// it signs is the image's. It returns the signature that verified.
func (img *Image) Verify(cert *x509.Certificate) (*Signature, error) {
	if len(img.Signatures) == 0 {
		return nil, errors.New("image is not signed")
	}
	var errs []error
	for _, s := range img.Signatures {
		err := s.verify(cert)
		if err == nil && !bytes.Equal(s.Digest, img.Digest) {
			err = fmt.Errorf("signature is for image digest %x, but the image's is %x", s.Digest, img.Digest)
		}
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func (s *Signature) verify(trusted *x509.Certificate) error {
	if s.Signer == nil {
		return errors.New("signature does not carry its signer's certificate")
	}
	if !s.Signer.Equal(trusted) {
		if err := s.Signer.CheckSignatureFrom(trusted); err != nil {
			return fmt.Errorf("signer %q is neither the given certificate %q nor issued by it: %w", s.Signer.Subject, trusted.Subject, err)
		}
	}
	pub, ok := s.Signer.PublicKey.(*rsa.PublicKey)
	if !ok {
		return errors.New("signer key is not RSA")
	}
	signed := s.content
	if s.signedAttrs != nil {
		md := sha256.Sum256(s.content)
		if !bytes.Equal(md[:], s.messageDig) {
			return errors.New("messageDigest attribute does not match the signed content")
		}
		signed = s.signedAttrs
	}
	h := sha256.Sum256(signed)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], s.sig); err != nil {
		return fmt.Errorf("signature does not verify: %w", err)
	}
	return nil
}

// VerifyDetached checks that p7, a DER SignedData (with or without its
// ContentInfo wrapper) whose content is left out, signs data and was made
// by cert or a certificate cert issued: how firmware checks an
// authenticated variable write.
func VerifyDetached(p7, data []byte, cert *x509.Certificate) error {
	if ci, err := expect(p7, tagSequence, 2, "ContentInfo"); err == nil {
		if o, err := parseOID(ci[0]); err == nil && o.Equal(oidSignedData) {
			inner, err := expect(ci[1].full, tagContext0, 1, "SignedData")
			if err != nil {
				return err
			}
			p7 = inner[0].full
		}
	}
	s, encap, err := parseSignedData(p7)
	if err != nil {
		return err
	}
	if len(encap) > 1 {
		return errors.New("signature is not detached: it carries its content")
	}
	s.content = data
	return s.verify(cert)
}
