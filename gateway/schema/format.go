package schema

import (
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// formatCheck reports whether a string is in a format.
type formatCheck func(string) bool

// formatChecks are the formats validation enforces. Any other format name is
// kept as an annotation (it reaches JSON Schema and Gemini) but not checked.
var formatChecks = map[string]formatCheck{
	"date-time": func(s string) bool { _, err := time.Parse(time.RFC3339Nano, s); return err == nil },
	"date":      func(s string) bool { _, err := time.Parse(time.DateOnly, s); return err == nil },
	"time":      isTime,
	"email":     isEmail,
	"uuid":      isUUID,
	"ipv4":      func(s string) bool { a, err := netip.ParseAddr(s); return err == nil && a.Is4() },
	"ipv6":      func(s string) bool { a, err := netip.ParseAddr(s); return err == nil && a.Is6() },
	"uri":       isURI,
	"hostname":  isHostname,
}

// KnownFormats lists the format names validation checks.
func KnownFormats() []string {
	names := make([]string, 0, len(formatChecks))
	for name := range formatChecks {
		names = append(names, name)
	}
	return names
}

func isTime(s string) bool {
	for _, layout := range []string{"15:04:05Z07:00", "15:04:05.999999999Z07:00"} {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}

func isEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || len(s) > 254 {
		return false
	}
	if strings.ContainsAny(s, " \t\r\n<>()[],;:\\\"") {
		return false
	}
	return isHostname(s[at+1:]) && strings.IndexByte(s[at+1:], '.') > 0
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isURI(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != ""
}

func isHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
