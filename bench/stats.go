package main

import (
	"fmt"
	"slices"
	"time"
)

// samples are repeated measurements of one quantity.
type samples []time.Duration

// median is the middle sample (the mean of the two middle ones for an even
// count); robust against the outliers a shared machine produces.
func (s samples) median() time.Duration {
	if len(s) == 0 {
		return 0
	}
	c := slices.Clone(s)
	slices.Sort(c)
	n := len(c)
	if n%2 == 1 {
		return c[n/2]
	}
	return (c[n/2-1] + c[n/2]) / 2
}

// spread formats the median with the range, as "412ms (398–530ms, n=7)".
func (s samples) spread() string {
	if len(s) == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%s (%s–%s, n=%d)", ms(s.median()), ms(slices.Min(s)), ms(slices.Max(s)), len(s))
}

// ms rounds a duration for tables: milliseconds below a minute.
func ms(d time.Duration) string {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// ratio is a/b, or 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// mib formats a byte count in MiB and MB, since targets use both.
func mib(n int64) string {
	return fmt.Sprintf("%.2f MiB (%.2f MB)", float64(n)/(1<<20), float64(n)/1e6)
}

// verdict marks whether a target is met.
func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}
