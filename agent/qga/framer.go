package qga

// Sentinel is the byte guest-sync-delimited puts before its answer and a
// host sends to reset the agent's parser: 0xFF never occurs in UTF-8
// JSON, so it cannot be mistaken for part of a command.
const Sentinel = 0xFF

// maxInput bounds one command; a longer one is dropped with an error
// rather than growing the buffer without end.
const maxInput = 64 << 10

// maxDepth bounds nesting, as QEMU's parser does.
const maxDepth = 64

// piece is one unit the framer cut from the input: a complete JSON value
// to decode, or a parse error to answer.
type piece struct {
	json []byte
	err  string // the "desc" of a GenericError; json is nil then
}

// framer cuts the byte stream into top-level JSON values without
// decoding them. Commands may span lines or share one; what ends a value
// is its closing bracket. A 0xFF byte drops whatever is half read.
type framer struct {
	buf     []byte
	depth   int
	inStr   bool
	escaped bool
	bare    bool // reading a top-level token that is not an object
	// dropped says why the current value will be answered with an error
	// instead of decoded (too long, too deep); empty while it is fine.
	dropped string
}

// feed consumes p and returns the pieces it completed, in order.
func (f *framer) feed(p []byte) []piece {
	var out []piece
	for _, c := range p {
		if c == Sentinel {
			// QEMU answers the reset byte with a parse error, which clients
			// discard while waiting for the delimited sync answer.
			f.reset()
			out = append(out, piece{err: "JSON parse error, stray '\uFFFD'"})
			continue
		}
		if pc, ok := f.byte(c); ok {
			out = append(out, pc)
		}
	}
	return out
}

func (f *framer) reset() {
	*f = framer{buf: f.buf[:0]}
}

// byte consumes one byte and reports a completed piece.
func (f *framer) byte(c byte) (piece, bool) {
	if f.bare {
		if isSpace(c) || c == '{' || c == '[' || c == '"' {
			pc := f.bareToken()
			if !isSpace(c) {
				f.byte(c)
			}
			return pc, true
		}
		f.keep(c)
		return piece{}, false
	}
	if f.depth == 0 && !f.inStr {
		switch {
		case isSpace(c):
			return piece{}, false
		case c == '{' || c == '[':
			f.keep(c)
			f.depth = 1
			return piece{}, false
		case c == '"':
			f.keep(c)
			f.inStr = true
			return piece{}, false
		case c == '}' || c == ']':
			return piece{err: "JSON parse error, expecting value"}, true
		default:
			f.bare = true
			f.keep(c)
			return piece{}, false
		}
	}
	f.keep(c)
	if f.inStr {
		switch {
		case f.escaped:
			f.escaped = false
		case c == '\\':
			f.escaped = true
		case c == '"':
			f.inStr = false
			if f.depth == 0 {
				return f.complete(), true
			}
		}
		return piece{}, false
	}
	switch c {
	case '"':
		f.inStr = true
	case '{', '[':
		f.depth++
		if f.depth > maxDepth && f.dropped == "" {
			f.dropped = "JSON parse error, nesting too deep"
		}
	case '}', ']':
		f.depth--
		if f.depth == 0 {
			return f.complete(), true
		}
	}
	return piece{}, false
}

// keep appends c unless the value is already too long.
func (f *framer) keep(c byte) {
	if f.dropped != "" {
		return
	}
	if len(f.buf) >= maxInput {
		f.dropped = "JSON parse error, input too long"
		return
	}
	f.buf = append(f.buf, c)
}

// complete ends the current value.
func (f *framer) complete() piece {
	var pc piece
	if f.dropped != "" {
		pc = piece{err: f.dropped}
	} else {
		pc = piece{json: append([]byte(nil), f.buf...)}
	}
	f.reset()
	return pc
}

// bareToken ends a top-level token that is not an object or array: a
// number or keyword is valid JSON but not a command, anything else is
// not JSON at all.
func (f *framer) bareToken() piece {
	tok := string(f.buf)
	f.reset()
	switch {
	case tok == "true" || tok == "false" || tok == "null" || isNumber(tok):
		return piece{err: "QMP input must be a JSON object"}
	}
	return piece{err: "JSON parse error, invalid keyword '" + tok + "'"}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E' {
			return false
		}
	}
	return true
}
