package compose

import (
	"bytes"
	"context"
	"testing"

	"github.com/tinyboot/tinyboot/compose/initramfs"
)

// TestInspectAppWithCPIOBytes builds an image whose app carries the cpio
// magic and trailer name in its bytes, as any program linking a cpio
// library (tbcompose itself) does, and reads it back whole.
func TestInspectAppWithCPIOBytes(t *testing.T) {
	f := newErrFixture(t)
	app := append(x86Exec(""), []byte("\x00070701000000000000000000000000TRAILER!!!\x00\x00\x00070701junk")...)
	app = append(app, bytes.Repeat([]byte("TRAILER!!!070701"), 1000)...)
	f.write("app", app)
	for _, c := range []string{"none", "zstd"} {
		t.Run(c, func(t *testing.T) {
			opts := f.opts
			opts.Compression = compressionOf(t, c)
			res, err := Build(context.Background(), f.spec.WithDefaults(), opts)
			if err != nil {
				t.Fatal(err)
			}
			in, err := Inspect(res.Output)
			if err != nil {
				t.Fatal(err)
			}
			found := map[string]int64{}
			for _, e := range in.Initramfs {
				found[e.Path] = e.Size
			}
			if found["/bin/hello"] != int64(len(app)) {
				t.Errorf("/bin/hello is %d bytes in the image, want %d", found["/bin/hello"], len(app))
			}
			if in.Spec == nil || in.Spec.Name != "hello" {
				t.Errorf("baked spec after the app not read: %+v", in.Spec)
			}
			if _, ok := found["/init"]; !ok {
				t.Error("/init missing")
			}
		})
	}
}

func compressionOf(t *testing.T, name string) initramfs.Compression {
	t.Helper()
	c, err := initramfs.ParseCompression(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
