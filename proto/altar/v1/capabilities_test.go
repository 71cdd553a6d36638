package altarv1_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

const (
	level0 = altarv1.ComplianceLevel_COMPLIANCE_LEVEL_UNSPECIFIED
	level1 = altarv1.ComplianceLevel_COMPLIANCE_LEVEL_1
	level2 = altarv1.ComplianceLevel_COMPLIANCE_LEVEL_2
	level3 = altarv1.ComplianceLevel_COMPLIANCE_LEVEL_3
)

func TestKnownCapabilities(t *testing.T) {
	known := altarv1.KnownCapabilities()
	if len(known) == 0 {
		t.Fatal("KnownCapabilities is empty")
	}
	seen := map[string]bool{}
	for _, c := range known {
		if seen[c] {
			t.Errorf("KnownCapabilities lists %q twice", c)
		}
		seen[c] = true
		if !altarv1.IsKnownCapability(c) {
			t.Errorf("IsKnownCapability(%q) = false for a listed capability", c)
		}
		if strings.HasPrefix(c, altarv1.CustomCapabilityPrefix) {
			t.Errorf("well-known capability %q uses the custom prefix", c)
		}
		if c != strings.ToLower(c) || strings.ContainsAny(c, " -") {
			t.Errorf("well-known capability %q is not lower_snake_case", c)
		}
	}
	for _, want := range []string{
		altarv1.CapabilityLevel1, altarv1.CapabilityLevel2, altarv1.CapabilityLevel3,
		"streaming", "binary_payloads", "cancellation", "heartbeat", "progress",
		"session_state", "security_context", "correlation", "idempotency",
		"register_tools", "tracing", "multi_tenancy", "rich_errors",
	} {
		if !seen[want] {
			t.Errorf("KnownCapabilities lacks %q", want)
		}
	}

	// The result is a copy: changing it changes nothing.
	known[0] = "mutated"
	if altarv1.KnownCapabilities()[0] == "mutated" {
		t.Error("KnownCapabilities returned the package's own slice")
	}
}

func TestIsKnownCapability(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"streaming", true},
		{"altar_level_2", true},
		{"audit_log", true},
		{"", false},
		{"Streaming", false},
		{"streaming ", false},
		{"x-acme-gpu", false},
		{"altar_level_4", false},
	}
	for _, tt := range tests {
		if got := altarv1.IsKnownCapability(tt.in); got != tt.want {
			t.Errorf("IsKnownCapability(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestIsCustomCapability(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"x-acme-gpu", true},
		{"x-a", true},
		{"x-acme_gpu2", true},
		{"x-" + strings.Repeat("a", 62), true},
		{"x-" + strings.Repeat("a", 63), false},
		{"x-", false},
		{"x-Acme", false},
		{"x-1gpu", false},
		{"x-acme-", false},
		{"x-acme--gpu", false},
		{"x-acme gpu", false},
		{"x-acmé", false},
		{"X-acme", false},
		{"acme", false},
	}
	for _, tt := range tests {
		if got := altarv1.IsCustomCapability(tt.in); got != tt.want {
			t.Errorf("IsCustomCapability(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestValidateCapabilities(t *testing.T) {
	tests := []struct {
		name string
		caps []string
		// want lists the expected problems as index, capability and a
		// fragment of the reason; empty means valid.
		want []altarv1.CapabilityProblem
	}{
		{name: "nil", caps: nil},
		{name: "empty list", caps: []string{}},
		{name: "every known", caps: altarv1.KnownCapabilities()},
		{name: "known and custom", caps: []string{"streaming", "x-acme-gpu", "x-b_2"}},
		{
			name: "empty string",
			caps: []string{"streaming", ""},
			want: []altarv1.CapabilityProblem{{Index: 1, Capability: "", Reason: "empty"}},
		},
		{
			name: "unknown",
			caps: []string{"teleport"},
			want: []altarv1.CapabilityProblem{{Index: 0, Capability: "teleport", Reason: "unknown capability"}},
		},
		{
			name: "wrong case is unknown",
			caps: []string{"Streaming"},
			want: []altarv1.CapabilityProblem{{Index: 0, Capability: "Streaming", Reason: "unknown capability"}},
		},
		{
			name: "malformed custom",
			caps: []string{"x-", "x-Acme", "x-acme-"},
			want: []altarv1.CapabilityProblem{
				{Index: 0, Capability: "x-", Reason: "malformed custom capability"},
				{Index: 1, Capability: "x-Acme", Reason: "malformed custom capability"},
				{Index: 2, Capability: "x-acme-", Reason: "malformed custom capability"},
			},
		},
		{
			name: "duplicates",
			caps: []string{"streaming", "x-gpu", "streaming", "x-gpu", "streaming"},
			want: []altarv1.CapabilityProblem{
				{Index: 2, Capability: "streaming", Reason: "duplicate of [0]"},
				{Index: 3, Capability: "x-gpu", Reason: "duplicate of [1]"},
				{Index: 4, Capability: "streaming", Reason: "duplicate of [0]"},
			},
		},
		{
			name: "every kind at once",
			caps: []string{"", "heartbeat", "nope", "x-Bad", "heartbeat", ""},
			want: []altarv1.CapabilityProblem{
				{Index: 0, Capability: "", Reason: "empty"},
				{Index: 2, Capability: "nope", Reason: "unknown capability"},
				{Index: 3, Capability: "x-Bad", Reason: "malformed custom capability"},
				{Index: 4, Capability: "heartbeat", Reason: "duplicate of [1]"},
				{Index: 5, Capability: "", Reason: "empty"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := altarv1.ValidateCapabilities(tt.caps)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("ValidateCapabilities(%q) = %v, want nil", tt.caps, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateCapabilities(%q) = nil, want an error", tt.caps)
			}
			if !errors.Is(err, altarv1.ErrInvalidCapabilities) {
				t.Errorf("error %v does not match ErrInvalidCapabilities", err)
			}
			var ce *altarv1.CapabilitiesError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *CapabilitiesError", err)
			}
			if len(ce.Problems) != len(tt.want) {
				t.Fatalf("got %d problems %+v, want %d", len(ce.Problems), ce.Problems, len(tt.want))
			}
			for i, p := range ce.Problems {
				w := tt.want[i]
				if p.Index != w.Index || p.Capability != w.Capability || !strings.Contains(p.Reason, w.Reason) {
					t.Errorf("problem %d = %+v, want index %d, capability %q, reason containing %q",
						i, p, w.Index, w.Capability, w.Reason)
				}
				// The message names every bad entry with its index.
				if !strings.Contains(err.Error(), "["+strconv.Itoa(w.Index)+"] "+strconv.Quote(w.Capability)) {
					t.Errorf("message %q does not name [%d] %q", err, w.Index, w.Capability)
				}
			}
		})
	}
}

func TestCapabilitiesErrorMessage(t *testing.T) {
	err := altarv1.ValidateCapabilities([]string{"streaming", "", "x-Bad"})
	const want = `invalid capabilities: [1] "": empty capability; [2] "x-Bad": malformed custom capability`
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message = %q, want prefix %q", err, want)
	}
}

func TestCapabilitiesForLevel(t *testing.T) {
	tests := []struct {
		level altarv1.ComplianceLevel
		want  []string
	}{
		{level0, nil},
		{altarv1.ComplianceLevel(4), nil},
		{altarv1.ComplianceLevel(-1), nil},
		{level1, []string{"altar_level_1", "heartbeat"}},
		{level2, []string{
			"altar_level_1", "heartbeat",
			"altar_level_2", "streaming", "cancellation", "correlation", "security_context", "rich_errors",
		}},
		{level3, []string{
			"altar_level_1", "heartbeat",
			"altar_level_2", "streaming", "cancellation", "correlation", "security_context", "rich_errors",
			"altar_level_3", "tracing", "multi_tenancy",
		}},
	}
	for _, tt := range tests {
		got := altarv1.CapabilitiesForLevel(tt.level)
		if !slices.Equal(got, tt.want) {
			t.Errorf("CapabilitiesForLevel(%v) = %q, want %q", tt.level, got, tt.want)
		}
		// Every requirement is a valid, known capability.
		if err := altarv1.ValidateCapabilities(got); err != nil {
			t.Errorf("CapabilitiesForLevel(%v) is not a valid list: %v", tt.level, err)
		}
		for _, c := range got {
			if !altarv1.IsKnownCapability(c) {
				t.Errorf("CapabilitiesForLevel(%v) requires unknown %q", tt.level, c)
			}
		}
	}

	// The result is a copy.
	got := altarv1.CapabilitiesForLevel(level1)
	got[0] = "mutated"
	if altarv1.CapabilitiesForLevel(level1)[0] == "mutated" {
		t.Error("CapabilitiesForLevel returned the package's own slice")
	}

	// Levels are cumulative.
	for _, pair := range [][2]altarv1.ComplianceLevel{{level1, level2}, {level2, level3}} {
		lower, higher := altarv1.CapabilitiesForLevel(pair[0]), altarv1.CapabilitiesForLevel(pair[1])
		for _, c := range lower {
			if !slices.Contains(higher, c) {
				t.Errorf("%v requires %q but %v does not", pair[0], c, pair[1])
			}
		}
	}
}

func TestLevelFromCapabilities(t *testing.T) {
	l1 := altarv1.CapabilitiesForLevel(level1)
	l2 := altarv1.CapabilitiesForLevel(level2)
	l3 := altarv1.CapabilitiesForLevel(level3)
	without := func(caps []string, drop string) []string {
		return slices.DeleteFunc(slices.Clone(caps), func(c string) bool { return c == drop })
	}
	tests := []struct {
		name string
		caps []string
		want altarv1.ComplianceLevel
	}{
		{"nil", nil, level0},
		{"features without markers", []string{"heartbeat", "streaming", "tracing"}, level0},
		{"marker without heartbeat", []string{"altar_level_1"}, level0},
		{"level 1", l1, level1},
		{"level 1 plus extras", append(slices.Clone(l1), "streaming", "x-gpu"), level1},
		{"level 2", l2, level2},
		{"level 2 without streaming", without(l2, "streaming"), level1},
		{"level 2 without its marker", without(l2, "altar_level_2"), level1},
		{"level 3", l3, level3},
		{"level 3 in reverse order", reversed(l3), level3},
		{"level 3 without tracing", without(l3, "tracing"), level2},
		{"level 3 without level 1 marker", without(l3, "altar_level_1"), level0},
		{"everything", altarv1.KnownCapabilities(), level3},
	}
	for _, tt := range tests {
		if got := altarv1.LevelFromCapabilities(tt.caps); got != tt.want {
			t.Errorf("%s: LevelFromCapabilities(%q) = %v, want %v", tt.name, tt.caps, got, tt.want)
		}
	}
}

func TestCheckComplianceLevel(t *testing.T) {
	l2 := altarv1.CapabilitiesForLevel(level2)
	tests := []struct {
		name    string
		level   altarv1.ComplianceLevel
		caps    []string
		wantErr error
		// wantIn are fragments the message must contain.
		wantIn []string
		// wantOut are fragments the message must not contain.
		wantOut []string
	}{
		{name: "level 1 ok", level: level1, caps: altarv1.CapabilitiesForLevel(level1)},
		{name: "level 2 ok", level: level2, caps: l2},
		{name: "level 3 ok", level: level3, caps: altarv1.KnownCapabilities()},
		{name: "lower level with more caps ok", level: level1, caps: l2},
		{
			name: "level 1 nothing declared", level: level1, caps: nil,
			wantErr: altarv1.ErrMissingCapabilities,
			wantIn:  []string{"COMPLIANCE_LEVEL_1", `"altar_level_1"`, `"heartbeat"`},
		},
		{
			name: "level 3 claimed with level 2 caps", level: level3, caps: l2,
			wantErr: altarv1.ErrMissingCapabilities,
			wantIn:  []string{"COMPLIANCE_LEVEL_3", `"altar_level_3", "tracing", "multi_tenancy"`},
			wantOut: []string{`"streaming"`, `"heartbeat"`},
		},
		{
			name: "level 2 missing one", level: level2,
			caps:    slices.DeleteFunc(slices.Clone(l2), func(c string) bool { return c == "cancellation" }),
			wantErr: altarv1.ErrMissingCapabilities,
			wantIn:  []string{`not declared: "cancellation"`},
			wantOut: []string{`"streaming"`},
		},
		{
			name: "unspecified", level: level0, caps: l2,
			wantErr: altarv1.ErrInvalidComplianceLevel,
			wantIn:  []string{"COMPLIANCE_LEVEL_UNSPECIFIED"},
		},
		{
			name: "undefined", level: altarv1.ComplianceLevel(9), caps: l2,
			wantErr: altarv1.ErrInvalidComplianceLevel,
			wantIn:  []string{"9", "COMPLIANCE_LEVEL_3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := altarv1.CheckComplianceLevel(tt.level, tt.caps)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("CheckComplianceLevel(%v, %q) = %v, want nil", tt.level, tt.caps, err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("CheckComplianceLevel(%v, %q) = %v, want an error matching %v", tt.level, tt.caps, err, tt.wantErr)
			}
			for _, s := range tt.wantIn {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("message %q lacks %q", err, s)
				}
			}
			for _, s := range tt.wantOut {
				if strings.Contains(err.Error(), s) {
					t.Errorf("message %q names %q, which was declared", err, s)
				}
			}
		})
	}
}

func TestCheckProtocolVersion(t *testing.T) {
	tests := []struct {
		in string
		ok bool
		// want is a fragment of the refusal besides what this side speaks.
		want string
	}{
		{in: altarv1.ProtocolVersion, ok: true},
		{in: "1.0", ok: true},
		{in: "1.3", ok: true},
		{in: "1.12", ok: true},
		{in: "", want: "no protocol version"},
		{in: "2.0", want: "major version 2"},
		{in: "0.9", want: "major version 0"},
		{in: "10.0", want: "major version 10"},
		{in: "abc", want: "not MAJOR.MINOR"},
		{in: "1", want: "not MAJOR.MINOR"},
		{in: "1.", want: "not MAJOR.MINOR"},
		{in: ".1", want: "not MAJOR.MINOR"},
		{in: "1.0.0", want: "not MAJOR.MINOR"},
		{in: "v1.0", want: "not MAJOR.MINOR"},
		{in: "01.0", want: "not MAJOR.MINOR"},
		{in: "1.-1", want: "not MAJOR.MINOR"},
		{in: "1.x", want: "not MAJOR.MINOR"},
		{in: " 1.0", want: "not MAJOR.MINOR"},
		{in: "1.9999999999", want: "not MAJOR.MINOR"},
	}
	for _, tt := range tests {
		err := altarv1.CheckProtocolVersion(tt.in)
		if tt.ok {
			if err != nil {
				t.Errorf("CheckProtocolVersion(%q) = %v, want nil", tt.in, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("CheckProtocolVersion(%q) = nil, want an error", tt.in)
			continue
		}
		if !errors.Is(err, altarv1.ErrUnsupportedProtocolVersion) {
			t.Errorf("CheckProtocolVersion(%q) = %v, does not match ErrUnsupportedProtocolVersion", tt.in, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, "speaks ALTAR "+altarv1.ProtocolVersion) {
			t.Errorf("CheckProtocolVersion(%q) = %q, does not name the version this side speaks", tt.in, msg)
		}
		if !strings.Contains(msg, tt.want) {
			t.Errorf("CheckProtocolVersion(%q) = %q, want it to contain %q", tt.in, msg, tt.want)
		}
	}
}

func TestProtocolVersionIsWellFormed(t *testing.T) {
	if err := altarv1.CheckProtocolVersion(altarv1.ProtocolVersion); err != nil {
		t.Fatalf("ProtocolVersion %q refuses itself: %v", altarv1.ProtocolVersion, err)
	}
}

// reversed returns a reversed copy of ss.
func reversed(ss []string) []string {
	r := slices.Clone(ss)
	slices.Reverse(r)
	return r
}
