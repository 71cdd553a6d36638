package main

import (
	"errors"
	"flag"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) {
		if buildDir != "" {
			_ = os.RemoveAll(buildDir)
		}
	}))
}

func TestRunFlags(t *testing.T) {
	if err := run([]string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("run(-h) = %v, want flag.ErrHelp", err)
	}
	if err := run([]string{"--bogus"}); err == nil {
		t.Error("run accepted an unknown flag")
	}
	if err := run([]string{"--id", ""}); err == nil || !strings.Contains(err.Error(), "needs an id") {
		t.Errorf("run(--id '') = %v", err)
	}
}
