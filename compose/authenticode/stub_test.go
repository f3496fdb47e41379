package authenticode

import (
	"bytes"
	"testing"
	"time"

	"github.com/tinyboot/tinyboot/compose/uki"
)

// TestSignedStub: a stub that is already signed (as distributions ship
// them for shim) loses its signature when the UKI is assembled, so the
// signed UKI carries exactly one signature, over all of it.
func TestSignedStub(t *testing.T) {
	stub := readStub(t)
	_, _, vendor := testPair(t, 2048, "vendor", time.Now().Add(-time.Hour))
	_, _, db := testPair(t, 2048, "db", time.Now().Add(-time.Hour))
	signedStub, err := vendor.Sign(stub)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := uki.Build(&out, signedStub, []uki.Section{
		uki.Bytes(uki.SectionLinux, bytes.Repeat([]byte{0x90}, 5000)),
		uki.Bytes(uki.SectionInitrd, bytes.Repeat([]byte{7}, 3000)),
	}); err != nil {
		t.Fatal(err)
	}
	img, err := Read(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Signatures) != 0 {
		t.Fatalf("the UKI kept the stub's %d signatures", len(img.Signatures))
	}
	signed, err := db.Sign(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	img, err = Read(signed)
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Signatures) != 1 {
		t.Fatalf("signed UKI has %d signatures, want 1", len(img.Signatures))
	}
	if _, err := img.Verify(db.Cert); err != nil {
		t.Error(err)
	}
	if _, err := img.Verify(vendor.Cert); err == nil {
		t.Error("the stub vendor's signature still verifies")
	}
}
