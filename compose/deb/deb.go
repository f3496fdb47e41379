// Package deb reads Debian binary packages (deb(5)) without unpacking them
// to disk: an ar archive holding debian-binary, control.tar[.comp] and
// data.tar[.comp], whose tars are streamed through the matching
// decompressor.
package deb

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/tinyboot/tinyboot/compose/deb/ar"
)

// maxControlSize bounds the decompressed control file, which is a few KiB
// in practice, so hostile input cannot make us buffer gigabytes.
const maxControlSize = 4 << 20

// Member is one ar member of a package and where its data lies.
type Member struct {
	ar.Header
	// Offset is the byte offset of the member's data in the package.
	Offset int64
}

// Package is an opened .deb. Its methods may be called concurrently, as
// they only read through the io.ReaderAt.
type Package struct {
	r io.ReaderAt
	// Format is the content of debian-binary without the newline, "2.0".
	Format string
	// Members are all ar members in archive order.
	Members []Member
	control Member
	data    Member
}

// Open reads the ar directory of a .deb of the given size. It checks the
// member layout and sizes but reads neither tar.
func Open(r io.ReaderAt, size int64) (*Package, error) {
	sr := io.NewSectionReader(r, 0, size)
	a := ar.NewReader(sr)
	p := &Package{r: r}
	for {
		hdr, err := a.Next()
		if errors.Is(err, ar.ErrNotAr) {
			return nil, errors.New("not a Debian package: not an ar archive")
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("deb: %w", err)
		}
		off, err := sr.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, fmt.Errorf("deb: %w", err)
		}
		if avail := size - off; hdr.Size > avail {
			return nil, fmt.Errorf("deb: %w", &ar.TruncatedError{Name: hdr.Name, Want: hdr.Size, Got: avail})
		}
		m := Member{Header: *hdr, Offset: off}
		if err := p.add(m); err != nil {
			return nil, err
		}
	}
	if len(p.Members) == 0 || p.Members[0].Name != "debian-binary" {
		return nil, errors.New("not a Debian package: missing debian-binary")
	}
	if p.control.Name == "" {
		return nil, errors.New("deb: missing control.tar member")
	}
	if p.data.Name == "" {
		return nil, errors.New("deb: missing data.tar member")
	}
	return p, nil
}

// add checks a member against deb(5)'s ordering rules and records it.
func (p *Package) add(m Member) error {
	switch {
	case len(p.Members) == 0:
		if m.Name != "debian-binary" {
			return errors.New("not a Debian package: missing debian-binary")
		}
		if m.Size > 64 || m.Size < 3 {
			return fmt.Errorf("deb: debian-binary is %d bytes, want a few (\"2.0\\n\")", m.Size)
		}
		b := make([]byte, m.Size)
		if n, err := p.r.ReadAt(b, m.Offset); err != nil && !(errors.Is(err, io.EOF) && n == len(b)) {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("deb: truncated ar member debian-binary (want %d bytes, got %d)", m.Size, n)
			}
			return fmt.Errorf("deb: read debian-binary: %w", err)
		}
		p.Format = strings.TrimSpace(string(b))
		if !strings.HasPrefix(p.Format, "2.") {
			return fmt.Errorf("deb: unsupported package format %q (want 2.x)", truncate(p.Format, 16))
		}
	case strings.HasPrefix(m.Name, "control.tar"):
		if p.control.Name != "" || p.data.Name != "" {
			return fmt.Errorf("deb: unexpected member %s after %s", m.Name, p.Members[len(p.Members)-1].Name)
		}
		if _, err := decompressorFor(m.Name); err != nil {
			return err
		}
		p.control = m
	case strings.HasPrefix(m.Name, "data.tar"):
		if p.control.Name == "" {
			return fmt.Errorf("deb: member %s before control.tar", m.Name)
		}
		if p.data.Name != "" {
			return fmt.Errorf("deb: duplicate data member %s", m.Name)
		}
		if _, err := decompressorFor(m.Name); err != nil {
			return err
		}
		p.data = m
	case strings.HasPrefix(m.Name, "_"):
		// deb(5): members starting with '_' are reserved for extensions
		// (signatures) and are skipped.
	default:
		if p.data.Name == "" {
			return fmt.Errorf("deb: unexpected member %s", m.Name)
		}
		// Members after data.tar are allowed for future extensions.
	}
	p.Members = append(p.Members, m)
	return nil
}

// section returns the data of a member.
func (p *Package) section(m Member) *io.SectionReader {
	return io.NewSectionReader(p.r, m.Offset, m.Size)
}

// ControlMember returns the control.tar member.
func (p *Package) ControlMember() Member { return p.control }

// DataMember returns the data.tar member.
func (p *Package) DataMember() Member { return p.data }

// Control reads and parses the control file from control.tar.
func (p *Package) Control() (*Control, error) {
	b, err := p.ControlFile("control")
	if err != nil {
		return nil, err
	}
	c, err := ParseControl(b)
	if err != nil {
		return nil, fmt.Errorf("deb: %w", err)
	}
	return c, nil
}

// ControlFile returns a file of control.tar by its name ("control",
// "md5sums", "postinst").
func (p *Package) ControlFile(name string) ([]byte, error) {
	tr, closer, err := p.openTar(p.control)
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("deb: no %s in %s", name, p.control.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("deb: read %s: %w", p.control.Name, noEOF(err))
		}
		if path.Clean("/"+hdr.Name) != "/"+name || hdr.Typeflag != tar.TypeReg {
			continue
		}
		if hdr.Size > maxControlSize {
			return nil, fmt.Errorf("deb: %s in %s is %d bytes, more than the %d allowed", name, p.control.Name, hdr.Size, maxControlSize)
		}
		var buf bytes.Buffer
		if _, err := io.CopyN(&buf, tr, hdr.Size); err != nil {
			return nil, fmt.Errorf("deb: read %s from %s: %w", name, p.control.Name, noEOF(err))
		}
		return buf.Bytes(), nil
	}
}

// Data streams data.tar. The caller must Close the returned Closer, which
// stops any background decompression; the tar.Reader must not be used
// after that.
func (p *Package) Data() (*tar.Reader, io.Closer, error) {
	return p.openTar(p.data)
}

func (p *Package) openTar(m Member) (*tar.Reader, io.Closer, error) {
	rc, err := open(m, p.section(m))
	if err != nil {
		return nil, nil, err
	}
	return tar.NewReader(rc), rc, nil
}

// noEOF turns a bare io.EOF into io.ErrUnexpectedEOF: wherever it is
// wrapped, more data was expected.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
