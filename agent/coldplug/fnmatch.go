package coldplug

// Match reports whether s matches the shell pattern as fnmatch(3) with no
// flags does, which is how kmod matches module aliases: '*' matches any run
// of bytes (including '/'), '?' one byte, "[...]" a set with ranges and a
// leading '!' or '^' for negation, and '\' quotes the next byte. A malformed
// bracket matches itself literally, as glibc's fnmatch does.
func Match(pattern, s string) bool {
	// Iterative matching with one backtrack point per '*': linear in
	// practice and no recursion on long CPU modaliases.
	px, sx := 0, 0
	starPx, starSx := -1, -1
	for sx < len(s) || px < len(pattern) {
		if px < len(pattern) {
			switch c := pattern[px]; c {
			case '*':
				starPx, starSx = px, sx
				px++
				continue
			case '?':
				if sx < len(s) {
					px++
					sx++
					continue
				}
			case '[':
				if sx < len(s) {
					if ok, n, valid := matchBracket(pattern[px:], s[sx]); valid {
						if ok {
							px += n
							sx++
							continue
						}
					} else if s[sx] == '[' {
						px++
						sx++
						continue
					}
				}
			case '\\':
				if px+1 < len(pattern) {
					c = pattern[px+1]
					if sx < len(s) && s[sx] == c {
						px += 2
						sx++
						continue
					}
					break
				}
				fallthrough
			default:
				if sx < len(s) && s[sx] == c {
					px++
					sx++
					continue
				}
			}
		}
		if starPx >= 0 && starSx < len(s) {
			starSx++
			px, sx = starPx+1, starSx
			continue
		}
		return false
	}
	return true
}

// matchBracket matches c against the bracket expression at the start of p
// ("[...]"). n is the expression's length; valid is false when p has no
// closing ']'.
func matchBracket(p string, c byte) (ok bool, n int, valid bool) {
	i := 1
	negate := false
	if i < len(p) && (p[i] == '!' || p[i] == '^') {
		negate = true
		i++
	}
	first := true
	for i < len(p) {
		if p[i] == ']' && !first {
			return ok != negate, i + 1, true
		}
		first = false
		lo := p[i]
		if lo == '\\' && i+1 < len(p) {
			i++
			lo = p[i]
		}
		i++
		hi := lo
		if i+1 < len(p) && p[i] == '-' && p[i+1] != ']' {
			hi = p[i+1]
			if hi == '\\' && i+2 < len(p) {
				hi = p[i+2]
				i++
			}
			i += 2
		}
		if lo <= c && c <= hi {
			ok = true
		}
	}
	return false, 0, false
}
