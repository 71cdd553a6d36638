package mcp

import (
	"testing"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// TestParseArguments: arguments are an object (or null), parsed exactly and
// within the limit; anything else is INVALID_ARGUMENTS or PAYLOAD_TOO_LARGE.
func TestParseArguments(t *testing.T) {
	tests := []struct {
		raw  string
		n    int
		code altarv1.ErrorCode
	}{
		{raw: `{"a":1,"b":2.5}`, n: 2},
		{raw: `null`},
		{raw: ``},
		{raw: `[1]`, code: altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS},
		{raw: `"x"`, code: altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS},
		{raw: `{"a":1,"a":2}`, code: altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS},
		{raw: `{"a":99999999999999999999}`, code: altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS},
		{raw: `{"a":"` + string(make([]byte, 200)) + `"}`, code: altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE},
	}
	for _, tt := range tests {
		got, err := parseArguments([]byte(tt.raw), 100)
		if code := altarerr.CodeOf(err); code != tt.code && !(tt.code == 0 && err == nil) {
			t.Errorf("%.30q: err = %v, want %v", tt.raw, err, tt.code)
			continue
		}
		if err == nil && len(got) != tt.n {
			t.Errorf("%.30q: %d parameters, want %d", tt.raw, len(got), tt.n)
		}
	}
}

// FuzzParseArguments: whatever a client sends as arguments is either
// parameters within the limit or an ALTAR error, never a panic.
func FuzzParseArguments(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `null`, `{"a":[1,{"b":null}],"c":"\u00e9"}`, `{"n":9007199254740993}`, `{`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		params, err := parseArguments(raw, 1<<10)
		if err != nil {
			if altarerr.CodeOf(err) == altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED {
				t.Fatalf("error without an ALTAR code: %v", err)
			}
			return
		}
		if len(raw) > 1<<10 && params != nil {
			t.Fatalf("%d bytes accepted, limit %d", len(raw), 1<<10)
		}
	})
}
