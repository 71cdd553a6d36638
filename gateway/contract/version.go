package contract

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// Version is a parsed semantic version.
type Version struct {
	Major, Minor, Patch uint64
	// Pre is the pre-release part without its "-" ("" for a release).
	Pre string
}

// ParseVersion parses a contract version (see ValidateVersion); build
// metadata is ignored, as semver orders it.
func ParseVersion(s string) (Version, error) {
	if err := ValidateVersion(s); err != nil {
		return Version{}, err
	}
	if i := strings.IndexByte(s, '+'); i >= 0 {
		s = s[:i]
	}
	var v Version
	if i := strings.IndexByte(s, '-'); i >= 0 {
		s, v.Pre = s[:i], s[i+1:]
	}
	parts := strings.SplitN(s, ".", 3)
	v.Major, _ = strconv.ParseUint(parts[0], 10, 64)
	v.Minor, _ = strconv.ParseUint(parts[1], 10, 64)
	v.Patch, _ = strconv.ParseUint(parts[2], 10, 64)
	return v, nil
}

// Compare orders versions as semver does: a pre-release sorts before its
// release, and pre-release identifiers compare numerically when numeric.
func (v Version) Compare(w Version) int {
	if c := cmp.Compare(v.Major, w.Major); c != 0 {
		return c
	}
	if c := cmp.Compare(v.Minor, w.Minor); c != 0 {
		return c
	}
	if c := cmp.Compare(v.Patch, w.Patch); c != 0 {
		return c
	}
	switch {
	case v.Pre == w.Pre:
		return 0
	case v.Pre == "":
		return 1
	case w.Pre == "":
		return -1
	}
	a, b := strings.Split(v.Pre, "."), strings.Split(w.Pre, ".")
	for i := 0; i < len(a) && i < len(b); i++ {
		ai, aerr := strconv.ParseUint(a[i], 10, 64)
		bi, berr := strconv.ParseUint(b[i], 10, 64)
		var c int
		switch {
		case aerr == nil && berr == nil:
			c = cmp.Compare(ai, bi)
		case aerr == nil:
			c = -1 // numeric identifiers sort first
		case berr == nil:
			c = 1
		default:
			c = strings.Compare(a[i], b[i])
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

func (v Version) String() string {
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if v.Pre != "" {
		s += "-" + v.Pre
	}
	return s
}

// Constraint is a set of versions: every term must hold.
//
// Terms are separated by spaces (or commas): "1.2.3" or "=1.2.3" (exactly),
// ">=1.2.0", ">1.2.0", "<=2.0.0", "<2.0.0", "^1.2.3" (>=1.2.3 <2.0.0; for
// 0.x, ^0.2.3 is >=0.2.3 <0.3.0), "~1.2.3" (>=1.2.3 <1.3.0), and partial
// versions "1.2" and "1" with ^, ~ or alone ("1.2" is >=1.2.0 <1.3.0). The
// empty constraint and "*" match every version. As in npm and Cargo, a
// pre-release matches only a term that names a pre-release of the same
// MAJOR.MINOR.PATCH.
type Constraint struct {
	src   string
	terms []term
}

type term struct {
	op string // "=", ">", ">=", "<", "<="
	v  Version
}

// ParseConstraint parses a version constraint.
func ParseConstraint(s string) (Constraint, error) {
	c := Constraint{src: s}
	for _, field := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' }) {
		if field == "*" {
			continue
		}
		terms, err := parseTerm(field)
		if err != nil {
			return Constraint{}, fmt.Errorf("version constraint %q: %w", s, err)
		}
		c.terms = append(c.terms, terms...)
	}
	return c, nil
}

func parseTerm(f string) ([]term, error) {
	op := ""
	for _, p := range []string{">=", "<=", ">", "<", "=", "^", "~"} {
		if strings.HasPrefix(f, p) {
			op, f = p, f[len(p):]
			break
		}
	}
	parts := strings.SplitN(f, ".", 3)
	full := len(parts) == 3
	v, err := partialVersion(f, parts)
	if err != nil {
		return nil, err
	}
	switch op {
	case ">=", "<=", ">", "<":
		return []term{{op, v}}, nil
	case "^":
		// The leftmost non-zero part of the version may not change.
		var upper Version
		switch {
		case v.Major > 0 || len(parts) == 1:
			upper = Version{Major: v.Major + 1}
		case v.Minor > 0 || len(parts) == 2:
			upper = Version{Minor: v.Minor + 1}
		default:
			upper = Version{Patch: v.Patch + 1}
		}
		return []term{{">=", v}, {"<", upper}}, nil
	case "~":
		upper := Version{Major: v.Major, Minor: v.Minor + 1}
		if len(parts) == 1 {
			upper = Version{Major: v.Major + 1}
		}
		return []term{{">=", v}, {"<", upper}}, nil
	default: // "=" or bare
		if full {
			return []term{{"=", v}}, nil
		}
		upper := Version{Major: v.Major + 1}
		if len(parts) == 2 {
			upper = Version{Major: v.Major, Minor: v.Minor + 1}
		}
		return []term{{">=", v}, {"<", upper}}, nil
	}
}

func partialVersion(f string, parts []string) (Version, error) {
	if len(parts) == 3 {
		return ParseVersion(f)
	}
	var v Version
	nums := []*uint64{&v.Major, &v.Minor}
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil || p == "" || (len(p) > 1 && p[0] == '0') {
			return Version{}, fmt.Errorf("%q is not a version", f)
		}
		*nums[i] = n
	}
	return v, nil
}

// Matches reports whether v satisfies every term.
func (c Constraint) Matches(v Version) bool {
	if v.Pre != "" && !c.allowsPre(v) {
		return false
	}
	for _, t := range c.terms {
		d := v.Compare(t.v)
		ok := false
		switch t.op {
		case "=":
			ok = d == 0
		case ">":
			ok = d > 0
		case ">=":
			ok = d >= 0
		case "<":
			ok = d < 0
		case "<=":
			ok = d <= 0
		}
		if !ok {
			return false
		}
	}
	return true
}

func (c Constraint) allowsPre(v Version) bool {
	for _, t := range c.terms {
		if t.v.Pre != "" && t.v.Major == v.Major && t.v.Minor == v.Minor && t.v.Patch == v.Patch {
			return true
		}
	}
	return false
}

// String returns the constraint as written.
func (c Constraint) String() string { return c.src }
