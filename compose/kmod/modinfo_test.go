package kmod

import (
	"github.com/tinyboot/tinyboot/internal/elftest"

	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

func TestParseModinfo(t *testing.T) {
	// The empty entries stand for the NUL padding the compiler inserts to
	// align entries.
	ko := buildKO(
		"version=1", "license=GPL", "", "", "", "description=virtio-pci", "author=A <a@example.org>",
		"firmware=foo.bin", "alias=pci:v00001AF4d*sv*sd*bc*sc*i*", "alias=fs-virtio",
		"softdep=pre: crc32c sha256", "softdep=post: virtio-rng pre: blake2b-256",
		"depends=virtio_ring,virtio-pci-modern-dev,, virtio", "retpoline=Y", "intree=Y",
		"name=virtio_pci", "vermagic=6.1.0-56-amd64 SMP preempt mod_unload modversions ",
		"parm=force_legacy:Force legacy mode")
	got, err := ParseModinfo(ko)
	if err != nil {
		t.Fatal(err)
	}
	want := &Info{
		Name:        "virtio_pci",
		Depends:     []string{"virtio_ring", "virtio_pci_modern_dev", "virtio"},
		SoftdepPre:  []string{"crc32c", "sha256", "blake2b-256"},
		SoftdepPost: []string{"virtio-rng"},
		Aliases:     []string{"pci:v00001AF4d*sv*sd*bc*sc*i*", "fs-virtio"},
		Firmware:    []string{"foo.bin"},
		Vermagic:    "6.1.0-56-amd64 SMP preempt mod_unload modversions",
		License:     "GPL",
		Description: "virtio-pci",
		Version:     "1",
		Intree:      true,
	}
	fields := got.Fields
	got.Fields = nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if len(fields) != 15 || fields[3] != (Field{"author", "A <a@example.org>"}) {
		t.Fatalf("fields = %q", fields)
	}
}

func TestParseModinfoErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "kmod: not an ELF module"},
		{"text", []byte("hello"), "kmod: not an ELF module"},
		{"no modinfo", elftest.Rel(".text", []byte{0xc3}), "kmod: no .modinfo section"},
		{"not key=value", buildKO("license=GPL", "garbage"), `.modinfo entry "garbage" is not key=value`},
		{"empty key", buildKO("=x"), "is not key=value"},
		{"truncated", buildKO("license=GPL")[:70], "kmod: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseModinfo(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestDecompress(t *testing.T) {
	ko := buildKO("name=foo", "license=GPL")
	compressed := map[string][]byte{".ko": ko}
	var gz, zs, x bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(ko)
	gw.Close()
	compressed[".ko.gz"] = gz.Bytes()
	zw, _ := zstd.NewWriter(&zs)
	zw.Write(ko)
	zw.Close()
	compressed[".ko.zst"] = zs.Bytes()
	// Kernel module xz files use CRC32 checks (xz --check=crc32).
	xw, _ := xz.WriterConfig{CheckSum: xz.CRC32}.NewWriter(&x)
	xw.Write(ko)
	xw.Close()
	compressed[".ko.xz"] = x.Bytes()
	for ext, b := range compressed {
		t.Run(ext, func(t *testing.T) {
			got, err := Decompress("kernel/fs/foo"+ext, bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, ko) {
				t.Fatalf("got %d bytes, want %d", len(got), len(ko))
			}
			if ext == ".ko" {
				return
			}
			_, err = Decompress("kernel/fs/foo"+ext, bytes.NewReader(b[:len(b)/2]))
			if err == nil || !strings.Contains(err.Error(), "foo"+ext) {
				t.Fatalf("truncated: err = %v", err)
			}
		})
	}
	for _, name := range []string{"foo.xz", "foo.ko.bz2", "modules.builtin"} {
		if _, err := Decompress(name, bytes.NewReader(nil)); err == nil || !strings.Contains(err.Error(), "is not a kernel module") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestParseBuiltin(t *testing.T) {
	got, err := ParseBuiltin(strings.NewReader("kernel/arch/x86/events/amd/amd-uncore.ko\n\nkernel/mm/zswap.ko\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"amd_uncore", "zswap"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if _, err := ParseBuiltin(strings.NewReader("kernel/mm/zswap.ko\nnonsense\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseBuiltinModinfo(t *testing.T) {
	in := "crc32c_generic.license=GPL\x00crc32c_generic.alias=crypto-crc32c\x00zswap.parm=enabled:x\x00crc32c_generic.alias=crc32c\x00"
	got, err := ParseBuiltinModinfo(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "crc32c_generic" || !reflect.DeepEqual(got[0].Aliases, []string{"crypto-crc32c", "crc32c"}) || got[1].Name != "zswap" {
		t.Fatalf("got %+v", got)
	}
	if _, err := ParseBuiltinModinfo(strings.NewReader("nodot=1\x00")); err == nil {
		t.Fatal("no error for an entry without module prefix")
	}
}
