package authenticode

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
)

// Signer is an RSA private key and the certificate for its public key.
type Signer struct {
	Key  *rsa.PrivateKey
	Cert *x509.Certificate
}

// winCertificate header values for an Authenticode signature.
const (
	winCertHeaderSize     = 8
	winCertRevision2      = 0x0200
	winCertTypePKCSSigned = 0x0002
	certAlign             = 8
)

// Sign returns the PE image b signed by s: any existing signature is
// dropped, the image is padded to 8 bytes, the WIN_CERTIFICATE holding the
// PKCS#7 signature is appended and entered in the certificate table
// directory, and the PE checksum is updated.
func (s *Signer) Sign(b []byte) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	l, err := parse(b)
	if err != nil {
		return nil, err
	}
	// Work on an unsigned copy padded to the certificate alignment; the
	// padding counts as trailing data in the hash, as with sbsign.
	end := int64(len(b))
	if l.certSize != 0 {
		end = l.certOff
	}
	img := make([]byte, alignUp(end, certAlign), alignUp(end, certAlign)+4096)
	copy(img, b[:end])
	binary.LittleEndian.PutUint64(img[l.secDirOff:], 0)
	l.certOff, l.certSize = 0, 0
	digest := l.imageHash(img, sha256.New())

	p7, err := s.signedData(digest)
	if err != nil {
		return nil, err
	}
	entry := int64(winCertHeaderSize + len(p7))
	padded := alignUp(entry, certAlign)
	certOff := int64(len(img))
	if certOff+padded > 0xffffffff {
		return nil, errors.New("signed image would exceed 4 GiB")
	}
	var hdr [winCertHeaderSize]byte
	binary.LittleEndian.PutUint32(hdr[0:], uint32(entry))
	binary.LittleEndian.PutUint16(hdr[4:], winCertRevision2)
	binary.LittleEndian.PutUint16(hdr[6:], winCertTypePKCSSigned)
	img = append(img, hdr[:]...)
	img = append(img, p7...)
	img = append(img, make([]byte, padded-entry)...)
	binary.LittleEndian.PutUint32(img[l.secDirOff:], uint32(certOff))
	binary.LittleEndian.PutUint32(img[l.secDirOff+4:], uint32(padded))
	binary.LittleEndian.PutUint32(img[l.checksumOff:], peChecksum(img, l.checksumOff))
	return img, nil
}

// check rejects a signer whose key does not belong to its certificate.
func (s *Signer) check() error {
	if s == nil || s.Key == nil || s.Cert == nil {
		return errors.New("signer needs a key and a certificate")
	}
	pub, ok := s.Cert.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(&s.Key.PublicKey) {
		return errors.New("the private key does not belong to the certificate")
	}
	return nil
}

// signedData returns the DER ContentInfo of a PKCS#7 SignedData whose
// content is the SpcIndirectDataContent for digest.
func (s *Signer) signedData(digest []byte) ([]byte, error) {
	spc := spcIndirectDataContent(digest)
	inner, _, err := parseElement(spc)
	if err != nil {
		return nil, err
	}
	// Authenticode's messageDigest covers SpcIndirectDataContent's
	// contents, without its SEQUENCE header.
	sd, err := s.pkcs7(oidSpcIndirectData, inner.contents, tlv(tagContext0, spc), seq(oid(oidSpcSpOpusInfo), set(seq())))
	if err != nil {
		return nil, err
	}
	return seq(oid(oidSignedData), tlv(tagContext0, sd)), nil
}

// pkcs7 returns a DER SignedData signed by s over signed (the content's
// digested bytes) with content type ct; content is the encapsulated
// content's [0] element, nil for a detached signature. extra are more
// authenticated attributes.
func (s *Signer) pkcs7(ct asn1.ObjectIdentifier, signed, content []byte, extra ...[]byte) ([]byte, error) {
	md := sha256.Sum256(signed)
	attrs := append([][]byte{
		seq(oid(oidContentType), set(oid(ct))),
		seq(oid(oidMessageDigest), set(octets(md[:]))),
	}, extra...)
	// The signature is over the attributes encoded as a SET; in the
	// SignerInfo they are tagged [0] IMPLICIT instead.
	attrSet := set(attrs...)
	h := sha256.Sum256(attrSet)
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.Key, crypto.SHA256, h[:])
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	serial, err := asn1.Marshal(s.Cert.SerialNumber)
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	attrField := append([]byte{tagContext0}, attrSet[1:]...)
	signer := seq(
		integer(1),
		seq(s.Cert.RawIssuer, serial),
		algorithm(oidSHA256),
		attrField,
		algorithm(oidRSAEncryption),
		octets(sig),
	)
	encap := seq(oid(ct))
	if content != nil {
		encap = seq(oid(ct), content)
	}
	return seq(
		integer(1),
		set(algorithm(oidSHA256)),
		encap,
		tlv(tagContext0, s.Cert.Raw),
		set(signer),
	), nil
}

// SignDetached returns a DER PKCS#7 SignedData (without the ContentInfo
// wrapper) over data, whose content is left out: the form UEFI's
// time-based authenticated variables carry.
func (s *Signer) SignDetached(data []byte) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.pkcs7(oidData, data, nil)
}

func alignUp(v, a int64) int64 { return (v + a - 1) &^ (a - 1) }
