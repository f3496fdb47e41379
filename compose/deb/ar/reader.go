// Package ar reads Unix ar archives, the outer container of Debian
// packages.
//
// The layout is the common one: an 8-byte global header "!<arch>\n", then
// members, each a 60-byte ASCII header followed by its data, padded with
// one '\n' to an even offset. Short names may carry the GNU trailing '/'
// and BSD "#1/<len>" long names are understood; the GNU "//" long-name
// table is not, because dpkg does not use it. Go's standard library has no
// ar package, hence this small reader.
package ar

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Magic is the global header every ar archive starts with.
const Magic = "!<arch>\n"

// HeaderSize is the size of a member header.
const HeaderSize = 60

// maxLongName bounds BSD long names so hostile input cannot make us
// allocate the whole member size for a name.
const maxLongName = 4096

// ErrNotAr is returned when the input does not start with the ar magic.
var ErrNotAr = errors.New("ar: not an ar archive (bad global header)")

// Header describes one archive member.
type Header struct {
	Name    string
	ModTime time.Time
	UID     int
	GID     int
	Mode    int64
	// Size is the size of the member's data, excluding the BSD long name
	// and the alignment padding.
	Size int64
}

// TruncatedError reports a member whose data ends before its header's
// size says it should.
type TruncatedError struct {
	Name string
	Want int64
	Got  int64
}

func (e *TruncatedError) Error() string {
	return fmt.Sprintf("truncated ar member %s (want %d bytes, got %d)", e.Name, e.Want, e.Got)
}

// Unwrap lets callers test for io.ErrUnexpectedEOF.
func (e *TruncatedError) Unwrap() error { return io.ErrUnexpectedEOF }

// Reader streams the members of an ar archive, like archive/tar.Reader:
// Next advances to the next member and Read reads its data.
type Reader struct {
	r       io.Reader
	started bool
	err     error // sticky
	hdr     *Header
	remain  int64 // unread data bytes of the current member
	pad     int64 // padding byte after the current member's data
}

// NewReader returns a Reader reading from r. If r is an io.Seeker, skipped
// member data is seeked over rather than read.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: r}
}

// Next advances to the next member and returns its header. It returns
// io.EOF at the end of the archive.
func (tr *Reader) Next() (*Header, error) {
	if tr.err != nil {
		return nil, tr.err
	}
	hdr, err := tr.next()
	if err != nil {
		tr.err = err
		return nil, err
	}
	return hdr, nil
}

func (tr *Reader) next() (*Header, error) {
	if !tr.started {
		tr.started = true
		var magic [len(Magic)]byte
		if _, err := io.ReadFull(tr.r, magic[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, ErrNotAr
			}
			return nil, fmt.Errorf("ar: read global header: %w", err)
		}
		if string(magic[:]) != Magic {
			return nil, ErrNotAr
		}
	}
	if err := tr.skip(); err != nil {
		return nil, err
	}
	var raw [HeaderSize]byte
	n, err := io.ReadFull(tr.r, raw[:])
	switch {
	case err == io.EOF:
		return nil, io.EOF
	case err == io.ErrUnexpectedEOF:
		return nil, fmt.Errorf("ar: truncated member header (want %d bytes, got %d)", HeaderSize, n)
	case err != nil:
		return nil, fmt.Errorf("ar: read member header: %w", err)
	}
	hdr, err := parseHeader(raw[:])
	if err != nil {
		return nil, err
	}
	tr.remain = hdr.Size
	tr.pad = hdr.Size % 2
	if strings.HasPrefix(hdr.Name, "#1/") {
		// BSD long name: the name is stored at the start of the data and
		// counted in the size.
		nameLen, err := strconv.ParseInt(hdr.Name[3:], 10, 64)
		if err != nil || nameLen < 0 || nameLen > hdr.Size || nameLen > maxLongName {
			return nil, fmt.Errorf("ar: bad BSD long name length %q", hdr.Name)
		}
		name := make([]byte, nameLen)
		if got, err := io.ReadFull(tr.r, name); err != nil {
			return nil, &TruncatedError{Name: hdr.Name, Want: nameLen, Got: int64(got)}
		}
		hdr.Name = string(bytes.TrimRight(name, "\x00"))
		hdr.Size -= nameLen
		tr.remain = hdr.Size
	}
	tr.hdr = hdr
	h := *hdr
	return &h, nil
}

// skip discards the rest of the current member and its padding.
func (tr *Reader) skip() error {
	if tr.hdr == nil {
		return nil
	}
	left := tr.remain
	if s, ok := tr.r.(io.Seeker); ok && left > 1 {
		// Seeking cannot detect truncation, so seek over all but the last
		// data byte and read that one.
		start, err := s.Seek(0, io.SeekCurrent)
		if err == nil {
			_, err = s.Seek(left-1, io.SeekCurrent)
		}
		if err != nil {
			return fmt.Errorf("ar: skip member %s: %w", tr.hdr.Name, err)
		}
		if c, err := io.CopyN(io.Discard, tr.r, 1); c < 1 {
			if err != io.EOF {
				return fmt.Errorf("ar: skip member %s: %w", tr.hdr.Name, err)
			}
			got := tr.hdr.Size - left
			if end, err := s.Seek(0, io.SeekEnd); err == nil && end > start {
				got += end - start
			}
			return tr.truncated(got)
		}
		left = 0
	}
	if c, err := io.CopyN(io.Discard, tr.r, left); c < left {
		if err != io.EOF {
			return fmt.Errorf("ar: skip member %s: %w", tr.hdr.Name, err)
		}
		return tr.truncated(tr.hdr.Size - left + c)
	}
	// The padding byte may be missing at the very end of the archive; GNU
	// ar and dpkg accept that, so a short read here is ignored.
	if tr.pad > 0 {
		if _, err := io.CopyN(io.Discard, tr.r, tr.pad); err != nil && err != io.EOF {
			return fmt.Errorf("ar: skip padding of %s: %w", tr.hdr.Name, err)
		}
	}
	tr.remain, tr.pad = 0, 0
	return nil
}

func (tr *Reader) truncated(got int64) error {
	return &TruncatedError{Name: tr.hdr.Name, Want: tr.hdr.Size, Got: got}
}

// Read reads from the current member's data. It returns io.EOF at the end
// of the member, and a *TruncatedError if the archive ends early.
func (tr *Reader) Read(p []byte) (int, error) {
	if tr.err != nil {
		return 0, tr.err
	}
	if tr.hdr == nil {
		return 0, errors.New("ar: Read before Next")
	}
	if tr.remain == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > tr.remain {
		p = p[:tr.remain]
	}
	n, err := tr.r.Read(p)
	tr.remain -= int64(n)
	if err == io.EOF && tr.remain > 0 {
		err = tr.truncated(tr.hdr.Size - tr.remain)
		tr.err = err
	} else if err == io.EOF {
		err = nil
	} else if err != nil {
		err = fmt.Errorf("ar: read member %s: %w", tr.hdr.Name, err)
		tr.err = err
	}
	return n, err
}

// parseHeader decodes the fixed-width ASCII fields of a member header.
func parseHeader(raw []byte) (*Header, error) {
	if raw[58] != '`' || raw[59] != '\n' {
		return nil, fmt.Errorf("ar: bad member header terminator %q", raw[58:60])
	}
	name := strings.TrimRight(string(raw[0:16]), " ")
	if name != "/" && name != "//" {
		name = strings.TrimSuffix(name, "/")
	}
	if name == "" {
		return nil, errors.New("ar: member with empty name")
	}
	field := func(what string, b []byte, base int) (int64, error) {
		s := strings.TrimRight(string(b), " ")
		if s == "" {
			return 0, nil
		}
		v, err := strconv.ParseInt(s, base, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("ar: member %s: bad %s field %q", name, what, s)
		}
		return v, nil
	}
	mtime, err := field("mtime", raw[16:28], 10)
	if err != nil {
		return nil, err
	}
	uid, err := field("uid", raw[28:34], 10)
	if err != nil {
		return nil, err
	}
	gid, err := field("gid", raw[34:40], 10)
	if err != nil {
		return nil, err
	}
	mode, err := field("mode", raw[40:48], 8)
	if err != nil {
		return nil, err
	}
	size, err := field("size", raw[48:58], 10)
	if err != nil {
		return nil, err
	}
	return &Header{
		Name:    name,
		ModTime: time.Unix(mtime, 0).UTC(),
		UID:     int(uid),
		GID:     int(gid),
		Mode:    mode,
		Size:    size,
	}, nil
}
