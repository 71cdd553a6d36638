package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runAltar runs the altar command line in-process, as run does, and returns
// what it printed and its exit code.
func runAltar(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	root := newRootCommand()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	if err := root.ExecuteContext(context.Background()); err != nil {
		var exit exitError
		if errors.As(err, &exit) {
			code = exit.code
		} else {
			fmt.Fprintln(&errOut, "altar:", err)
			code = 1
		}
	}
	return out.String(), errOut.String(), code
}

const examples = "../../manifests"

func TestValidateExamples(t *testing.T) {
	out, errOut, code := runAltar(t, "validate", examples)
	want := "ok    ../../manifests/calculator.yaml (5 contracts)\n" +
		"ok    ../../manifests/files.yaml (3 contracts)\n" +
		"ok    ../../manifests/weather.json (3 contracts)\n" +
		"\n3 manifests valid, 11 contracts\n"
	if code != 0 || out != want || errOut != "" {
		t.Errorf("altar validate %s: exit %d\n%s%s\nwant exit 0 and\n%s", examples, code, out, errOut, want)
	}
}

// TestValidateGlobs is the README's quickstart: the shell expands
// manifests/*.json to the JSON Schema too, which is skipped, not failed.
func TestValidateGlobs(t *testing.T) {
	yamls, _ := filepath.Glob(examples + "/*.yaml")
	jsons, _ := filepath.Glob(examples + "/*.json")
	out, _, code := runAltar(t, append(append([]string{"validate"}, yamls...), jsons...)...)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, line := range []string{
		"ok    ../../manifests/calculator.yaml (5 contracts)\n",
		"skip  ../../manifests/manifest.schema.json (a JSON Schema, not a manifest)\n",
		"\n3 manifests valid, 11 contracts\n",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
}

func writeManifests(t *testing.T, files map[string]string) {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	for name, content := range files {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const (
	goodManifest = "manifest_version: \"1.0\"\ncontracts:\n  - name: echo\n    version: 1.0.0\n"
	badManifest  = "manifest_version: \"1.0\"\ncontracts:\n  - name: 9lives\n    version: 1.0\n    timeout_ms: -1\n"
)

func TestValidateFailures(t *testing.T) {
	writeManifests(t, map[string]string{
		"tools/good.yaml": goodManifest,
		"tools/bad.yaml":  badManifest,
		"other/dup.json":  `{"manifest_version": "1.0", "contracts": [{"name": "echo", "version": "1.0.0"}]}`,
	})
	out, errOut, code := runAltar(t, "validate", "tools", "missing.yaml", "other/dup.json")
	want := `FAIL  tools/bad.yaml
      tools/bad.yaml:3:11: contracts[0].name: name "9lives" must start with a letter or "_" (name)
      tools/bad.yaml:4:14: contracts[0].version: expected a string, got a number; quote it: "1.0" (kind)
      tools/bad.yaml:5:17: contracts[0].timeout_ms: timeout_ms must not be negative (0 means the Host's default), not -1 (range)
ok    tools/good.yaml (1 contract)
FAIL  missing.yaml
      missing.yaml: stat: no such file or directory (file)
FAIL  other/dup.json
      other/dup.json:1:43: contracts[0]: contract "echo" version "1.0.0" is defined twice; the first is at tools/good.yaml:3:5 (duplicate)

3 of 4 manifests failed with 5 problems
`
	if code != 1 || out != want || errOut != "" {
		t.Errorf("exit %d, stderr %q, output:\n%s\nwant exit 1 and:\n%s", code, errOut, out, want)
	}
}

func TestValidateJSON(t *testing.T) {
	writeManifests(t, map[string]string{"good.yaml": goodManifest, "bad.yaml": badManifest})
	out, _, code := runAltar(t, "validate", "--output", "json", "good.yaml", "bad.yaml")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	var v validation
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if v.OK != 1 || v.Failed != 1 || v.Problems != 3 || v.Contracts != 1 || len(v.Files) != 2 {
		t.Fatalf("summary = %+v", v)
	}
	bad := v.Files[1]
	if bad.File != "bad.yaml" || bad.Status != "fail" || len(bad.Errors) != 3 {
		t.Fatalf("bad.yaml = %+v", bad)
	}
	e := bad.Errors[0]
	if e.Line != 3 || e.Column != 11 || e.Path != "contracts[0].name" || e.Rule != "name" ||
		!strings.HasPrefix(e.Text, "bad.yaml:3:11: contracts[0].name: ") {
		t.Errorf("first error = %+v", e)
	}
}

func TestValidateUsage(t *testing.T) {
	for _, args := range [][]string{
		{"validate"},
		{"validate", "--output", "xml", examples},
	} {
		_, errOut, code := runAltar(t, args...)
		if code != 1 || !strings.HasPrefix(errOut, "altar: ") {
			t.Errorf("altar %q: exit %d, stderr %q; want exit 1 and a message", args, code, errOut)
		}
	}
}

// TestValidateBinary builds the real altar binary and runs it on the
// example manifests, as the README's quickstart does.
func TestValidateBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	const buildTimeout = 5 * time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "altar")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	yamls, _ := filepath.Glob(examples + "/*.yaml")
	jsons, _ := filepath.Glob(examples + "/*.json")
	out, err := exec.CommandContext(ctx, bin, append(append([]string{"validate"}, yamls...), jsons...)...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "3 manifests valid, 11 contracts") {
		t.Errorf("altar validate on the examples: %v\n%s", err, out)
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte(badManifest), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = exec.CommandContext(ctx, bin, "validate", bad).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "FAIL  "+bad) {
		t.Errorf("altar validate on a bad manifest: %v\n%s", err, out)
	}
}
