package contract

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"add", true},
		{"_private", true},
		{"fs.read_file", true},
		{"weather-v2", true},
		{"A9", true},
		{strings.Repeat("a", MaxNameLength), true},
		{"", false},
		{"9add", false},
		{"-add", false},
		{".add", false},
		{"add tool", false},
		{"add/sub", false},
		{"añadir", false},
		{strings.Repeat("a", MaxNameLength+1), false},
	} {
		err := ValidateName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidateName(%q) = %v, not ErrInvalidName", tc.name, err)
		}
	}
}

func TestValidatePropertyName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"max_bytes", true},
		{"X-Request-Id", true},
		{"_x1", true},
		{"", false},
		{"a.b", false},
		{"1a", false},
		{"has space", false},
		{strings.Repeat("p", MaxNameLength+1), false},
	} {
		err := ValidatePropertyName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ValidatePropertyName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidPropertyName) {
			t.Errorf("ValidatePropertyName(%q) = %v, not ErrInvalidPropertyName", tc.name, err)
		}
	}
}

func TestValidateVersion(t *testing.T) {
	for _, tc := range []struct {
		version string
		ok      bool
		hint    string
	}{
		{"1.0.0", true, ""},
		{"0.0.1", true, ""},
		{"10.20.30", true, ""},
		{"1.0.0-alpha", true, ""},
		{"1.0.0-beta.1+build.5", true, ""},
		{"1.0.0+20260101", true, ""},
		{"", false, "empty"},
		{"1.0", false, "MAJOR.MINOR.PATCH"},
		{"1", false, "MAJOR.MINOR.PATCH"},
		{"01.0.0", false, "MAJOR.MINOR.PATCH"},
		{"1.0.0-", false, "MAJOR.MINOR.PATCH"},
		{"1.0.0-01", false, "MAJOR.MINOR.PATCH"},
		{"v1.0.0", false, `write "1.0.0"`},
		{"1.0.0 ", false, "MAJOR.MINOR.PATCH"},
		{"1.0.0-" + strings.Repeat("a", MaxVersionLength), false, "at most"},
	} {
		err := ValidateVersion(tc.version)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateVersion(%q) = %v, want ok=%v", tc.version, err, tc.ok)
			continue
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, ErrInvalidVersion) || !strings.Contains(err.Error(), tc.hint) {
			t.Errorf("ValidateVersion(%q) = %q, want ErrInvalidVersion mentioning %q", tc.version, err, tc.hint)
		}
	}
}
