package spec

// suggest returns the candidate closest to s for a "did you mean" hint,
// or "" when none is close enough to be a plausible typo.
func suggest(s string, candidates []string) string {
	if s == "" {
		return ""
	}
	best, bestDist := "", 0
	for _, c := range candidates {
		d := editDistance(s, c)
		if best == "" || d < bestDist {
			best, bestDist = c, d
		}
	}
	// Allow about one edit per three characters: "rebot" → "reboot",
	// "nmae" → "name", but not "foo" → "go".
	if best == "" || bestDist > max(1, len(s)/3) {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b
// in bytes: Levenshtein plus transposition of neighbours, the commonest
// typo ("nmae"). Hand-written because it is a few lines, used only for
// hints; the inputs are keys and enum values, and very long ones are not
// worth comparing.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b))
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
