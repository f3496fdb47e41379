package authenticode

import (
	"bytes"
	"encoding/asn1"
	"fmt"
	"sort"
)

// Object identifiers of Authenticode and PKCS#7.
var (
	oidSignedData      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidData            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSHA256          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidRSAEncryption   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidContentType     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSpcIndirectData = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 1, 4}
	oidSpcPEImageData  = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 1, 15}
	oidSpcSpOpusInfo   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 1, 12}
)

// DER tags used below.
const (
	tagInteger     = 0x02
	tagBitString   = 0x03
	tagOctetString = 0x04
	tagNull        = 0x05
	tagSequence    = 0x30
	tagSet         = 0x31
	tagContext0    = 0xa0 // [0] constructed
	tagContext2    = 0xa2 // [2] constructed
	tagImplicit0   = 0x80 // [0] primitive
)

// The PKCS#7 structures are written with a small DER builder rather than
// encoding/asn1 struct tags: Authenticode signs the bytes of
// SpcIndirectDataContent without its outer header and the attribute SET
// re-tagged, so the exact encoding of each element must be in hand.

// tlv encodes one DER element with the given identifier octet.
func tlv(tag byte, contents ...[]byte) []byte {
	n := 0
	for _, c := range contents {
		n += len(c)
	}
	out := []byte{tag}
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	default:
		var l []byte
		for v := n; v > 0; v >>= 8 {
			l = append([]byte{byte(v)}, l...)
		}
		out = append(out, 0x80|byte(len(l)))
		out = append(out, l...)
	}
	for _, c := range contents {
		out = append(out, c...)
	}
	return out
}

func seq(contents ...[]byte) []byte { return tlv(tagSequence, contents...) }

// set encodes a DER SET OF, whose elements are sorted by their encoding.
func set(elems ...[]byte) []byte {
	s := append([][]byte(nil), elems...)
	sort.Slice(s, func(i, j int) bool { return bytes.Compare(s[i], s[j]) < 0 })
	return tlv(tagSet, s...)
}

func oid(o asn1.ObjectIdentifier) []byte {
	b, _ := asn1.Marshal(o) // cannot fail for the constants above
	return b
}

func octets(b []byte) []byte { return tlv(tagOctetString, b) }

func integer(v int) []byte { return tlv(tagInteger, []byte{byte(v)}) }

// algorithm encodes an AlgorithmIdentifier with NULL parameters, as
// signers write them.
func algorithm(o asn1.ObjectIdentifier) []byte { return seq(oid(o), []byte{tagNull, 0}) }

// spcIndirectDataContent encodes what an Authenticode signature signs:
// that the file is a PE image, and its SHA-256 hash.
func spcIndirectDataContent(digest []byte) []byte {
	// SpcLink, file choice: [2] { [0] IMPLICIT BMPString "<<<Obsolete>>>" },
	// which every signer still writes.
	var bmp []byte
	for _, r := range "<<<Obsolete>>>" {
		bmp = append(bmp, 0, byte(r))
	}
	peImageData := seq(
		tlv(tagBitString, []byte{0}), // SpcPeImageFlags: none
		tlv(tagContext0, tlv(tagContext2, tlv(tagImplicit0, bmp))),
	)
	return seq(
		seq(oid(oidSpcPEImageData), peImageData),
		seq(algorithm(oidSHA256), octets(digest)),
	)
}

// element is one decoded DER element.
type element struct {
	tag      byte
	contents []byte
	full     []byte
}

// parseElement decodes the element at the start of b and returns it and
// what follows it.
func parseElement(b []byte) (element, []byte, error) {
	if len(b) < 2 {
		return element{}, nil, fmt.Errorf("ASN.1: truncated element")
	}
	tag := b[0]
	if tag&0x1f == 0x1f {
		return element{}, nil, fmt.Errorf("ASN.1: multi-byte tags are not supported")
	}
	n, hdr := int(b[1]), 2
	if n&0x80 != 0 {
		k := n & 0x7f
		if k == 0 || k > 4 || len(b) < 2+k {
			return element{}, nil, fmt.Errorf("ASN.1: bad length")
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		hdr += k
	}
	if n < 0 || hdr+n > len(b) {
		return element{}, nil, fmt.Errorf("ASN.1: element of %d bytes runs past its container", n)
	}
	return element{tag: tag, contents: b[hdr : hdr+n], full: b[:hdr+n]}, b[hdr+n:], nil
}

// children decodes the elements inside a constructed element.
func (e element) children() ([]element, error) {
	var out []element
	for rest := e.contents; len(rest) > 0; {
		c, r, err := parseElement(rest)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
		rest = r
	}
	return out, nil
}

// expect decodes b as one element with the given tag and n or more
// children.
func expect(b []byte, tag byte, n int, what string) ([]element, error) {
	e, rest, err := parseElement(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if e.tag != tag {
		return nil, fmt.Errorf("%s: tag %#x, want %#x", what, e.tag, tag)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%s: %d bytes of trailing data", what, len(rest))
	}
	c, err := e.children()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if len(c) < n {
		return nil, fmt.Errorf("%s: %d elements, want at least %d", what, len(c), n)
	}
	return c, nil
}

func parseOID(e element) (asn1.ObjectIdentifier, error) {
	var o asn1.ObjectIdentifier
	_, err := asn1.Unmarshal(e.full, &o)
	return o, err
}
