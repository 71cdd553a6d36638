package calc

import (
	"math"
	"strconv"
	"strings"
)

// Round rounds x to places decimal places by mode (HalfEven, HalfUp, Down,
// Up); ok is false for an unknown mode. It rounds the shortest decimal form
// of x (strconv's 'e' -1 format), digit by digit, and returns the double
// nearest the rounded decimal, so that what is rounded is the number as
// written: Round(2.675, 2, HalfUp) is 2.68.
func Round(x float64, places int, mode string) (r float64, ok bool) {
	switch mode {
	case HalfEven, HalfUp, Down, Up:
	default:
		return 0, false
	}
	if x == 0 || math.IsInf(x, 0) || math.IsNaN(x) {
		return x, true
	}
	// "-2.675e+00" -> sign "-", digits "2675", point 1 (digits before the point).
	s := strconv.FormatFloat(x, 'e', -1, 64)
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	mant, expStr, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(expStr)
	digits := strings.Replace(mant, ".", "", 1)
	point := exp + 1

	keep := point + places // digits kept
	if keep >= len(digits) {
		return x, true // Already has no more than places decimals.
	}
	if keep < 0 {
		// Every digit is below the last kept place: pad so that the first
		// dropped digit is a zero at that place.
		digits = strings.Repeat("0", -keep) + digits
		point -= keep
		keep = 0
	}
	kept, dropped := digits[:keep], digits[keep:]
	if roundsAway(kept, dropped, mode) {
		kept, point = increment(kept, point)
	}
	if kept == "" {
		kept = "0"
	}
	// kept holds the digits down to the last kept place.
	r, err := strconv.ParseFloat(sign+kept+"e"+strconv.Itoa(point-len(kept)), 64)
	if err != nil {
		return x, true
	}
	return r, true
}

// roundsAway decides whether the kept digits go up by one in their last
// place, given the dropped digits (not all of them zero: Round returns early
// when nothing is dropped, and the shortest form has no trailing zeros).
func roundsAway(kept, dropped, mode string) bool {
	switch mode {
	case Down:
		return false
	case Up:
		return strings.Trim(dropped, "0") != ""
	case HalfUp:
		return dropped[0] >= '5'
	default: // HalfEven
		if dropped[0] != '5' {
			return dropped[0] > '5'
		}
		if strings.Trim(dropped[1:], "0") != "" {
			return true // More than half.
		}
		// Exactly half: to the even digit.
		return kept != "" && (kept[len(kept)-1]-'0')%2 == 1
	}
}

// increment adds one in the last place of a decimal digit string; a carry
// out of the first digit adds a digit (and moves the point).
func increment(kept string, point int) (string, int) {
	if kept == "" {
		return "1", point + 1
	}
	b := []byte(kept)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < '9' {
			b[i]++
			return string(b), point
		}
		b[i] = '0'
	}
	return "1" + string(b), point + 1
}
