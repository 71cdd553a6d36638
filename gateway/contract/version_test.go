package contract_test

import (
	"testing"

	"github.com/altar-gateway/altar/gateway/contract"
)

func TestConstraintMatches(t *testing.T) {
	tests := []struct {
		constraint string
		version    string
		want       bool
	}{
		{"", "1.2.3", true},
		{"*", "0.0.1", true},
		{"1.2.3", "1.2.3", true},
		{"1.2.3", "1.2.4", false},
		{"=1.2.3", "1.2.3", true},
		{"^1.2.3", "1.9.0", true},
		{"^1.2.3", "2.0.0", false},
		{"^1.2.3", "1.2.2", false},
		{"^0.2.3", "0.2.9", true},
		{"^0.2.3", "0.3.0", false},
		{"^0.0.3", "0.0.4", false},
		{"^1.2", "1.2.0", true},
		{"^1", "1.99.0", true},
		{"~1.2.3", "1.2.9", true},
		{"~1.2.3", "1.3.0", false},
		{"1.2", "1.2.7", true},
		{"1.2", "1.3.0", false},
		{"1", "1.9.9", true},
		{">=1.0.0 <2.0.0", "1.5.0", true},
		{">=1.0.0 <2.0.0", "2.0.0", false},
		{">=1.0.0, <2.0.0", "0.9.0", false},
		{">1.0.0", "1.0.0", false},
		{"<=1.0.0", "1.0.0", true},
		{"^1.0.0", "1.1.0-beta.1", false},
		{">=1.1.0-beta.1", "1.1.0-beta.2", true},
		{">=1.1.0-beta.1", "1.1.0", true},
		{"1.0.0", "1.0.0+build.5", true},
	}
	for _, tt := range tests {
		c, err := contract.ParseConstraint(tt.constraint)
		if err != nil {
			t.Fatalf("ParseConstraint(%q): %v", tt.constraint, err)
		}
		v, err := contract.ParseVersion(tt.version)
		if err != nil {
			t.Fatalf("ParseVersion(%q): %v", tt.version, err)
		}
		if got := c.Matches(v); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v", tt.constraint, tt.version, got, tt.want)
		}
	}
}

func TestConstraintErrors(t *testing.T) {
	for _, s := range []string{"abc", "^x", ">=1.2.3.4", "1.02", "~", ">=v1.0.0"} {
		if _, err := contract.ParseConstraint(s); err == nil {
			t.Errorf("ParseConstraint(%q) accepted", s)
		}
	}
}

func TestVersionOrder(t *testing.T) {
	order := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0"}
	for i := 1; i < len(order); i++ {
		a, _ := contract.ParseVersion(order[i-1])
		b, _ := contract.ParseVersion(order[i])
		if a.Compare(b) >= 0 || b.Compare(a) <= 0 {
			t.Errorf("%s should sort before %s", order[i-1], order[i])
		}
	}
}
