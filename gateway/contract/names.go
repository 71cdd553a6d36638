package contract

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
)

// MaxNameLength is the longest contract name, and the longest property name.
// It matches the limits of MCP tool names and Gemini function names.
const MaxNameLength = 64

// MaxVersionLength is the longest contract version.
const MaxVersionLength = 128

// Errors matched (errors.Is) by the errors of ValidateName,
// ValidatePropertyName and ValidateVersion.
var (
	ErrInvalidName         = errors.New("invalid name")
	ErrInvalidPropertyName = errors.New("invalid property name")
	ErrInvalidVersion      = errors.New("invalid version")
)

// ValidateName checks a contract (tool) name: a letter or an underscore, then
// letters, digits, "_", "-" or "."; at most MaxNameLength characters. Only
// ASCII letters and digits count. The same names are valid MCP tool names and
// Gemini function names, and "." leaves room for namespaces ("fs.read_file").
func ValidateName(name string) error {
	return checkIdent(ErrInvalidName, "name", name, true)
}

// ValidatePropertyName checks the name of an object property in a
// ParameterSchema: a letter or an underscore, then letters, digits, "_" or
// "-"; at most MaxNameLength characters. Unlike a contract name it has no
// ".", so that a property is never mistaken for a path ("a.b") in error
// reports, JSON pointers or Gemini schemas.
func ValidatePropertyName(name string) error {
	return checkIdent(ErrInvalidPropertyName, "property name", name, false)
}

// nameError is a name rule's failure: kind (one of the Err* sentinels) and
// the reason, which the loader reports on its own beside the field's path.
type nameError struct {
	kind   error
	reason string
}

func (e *nameError) Error() string { return e.kind.Error() + ": " + e.reason }
func (e *nameError) Unwrap() error { return e.kind }

func failName(kind error, format string, args ...any) error {
	return &nameError{kind: kind, reason: fmt.Sprintf(format, args...)}
}

// reason is err's explanation without its sentinel prefix.
func reason(err error) string {
	var ne *nameError
	if errors.As(err, &ne) {
		return ne.reason
	}
	return err.Error()
}

func checkIdent(kind error, what, name string, dots bool) error {
	if name == "" {
		return failName(kind, "%s is empty", what)
	}
	if len(name) > MaxNameLength {
		return failName(kind, "%s %s is %d characters long; at most %d are allowed",
			what, quoteShort(name), len(name), MaxNameLength)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '-' || (dots && c == '.')):
		case i == 0:
			return failName(kind, "%s %s must start with a letter or \"_\"", what, quoteShort(name))
		default:
			allowed := `letters, digits, "_" and "-"`
			if dots {
				allowed = `letters, digits, "_", "-" and "."`
			}
			return failName(kind, "%s %s has %s at offset %d; only %s are allowed",
				what, quoteShort(name), quoteRune(name[i:]), i, allowed)
		}
	}
	return nil
}

// semver is the regular expression of semver.org (2.0.0), anchored.
var semver = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
	`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// ValidateVersion checks a contract version: a semantic version
// MAJOR.MINOR.PATCH with an optional -prerelease and +build (semver.org
// 2.0.0), such as "1.0.0", "2.1.0-beta.1" or "1.0.0+20260101"; at most
// MaxVersionLength characters. There is no leading "v".
func ValidateVersion(v string) error {
	switch {
	case v == "":
		return failName(ErrInvalidVersion, "version is empty")
	case len(v) > MaxVersionLength:
		return failName(ErrInvalidVersion, "version is %d characters long; at most %d are allowed", len(v), MaxVersionLength)
	case semver.MatchString(v):
		return nil
	case len(v) > 1 && v[0] == 'v' && semver.MatchString(v[1:]):
		return failName(ErrInvalidVersion, "version %s has a leading \"v\"; write %s", quoteShort(v), strconv.Quote(v[1:]))
	default:
		return failName(ErrInvalidVersion, "version %s is not a semantic version MAJOR.MINOR.PATCH (such as \"1.0.0\")", quoteShort(v))
	}
}

// quoteShort quotes s for a message, cutting it at 40 bytes.
func quoteShort(s string) string {
	if len(s) > 40 {
		return strconv.Quote(s[:40]) + "…"
	}
	return strconv.Quote(s)
}

// quoteRune quotes the first rune of s.
func quoteRune(s string) string {
	for _, r := range s {
		return strconv.QuoteRune(r)
	}
	return `""`
}
