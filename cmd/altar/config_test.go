package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/altar-gateway/altar/gateway/auth"
	"github.com/altar-gateway/altar/gateway/config"
)

// runSub runs cmd under a bare root with args and stdin, returning what
// it printed.
func runSub(t *testing.T, cmd *cobra.Command, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := &cobra.Command{Use: "altar", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(cmd)
	var out, errOut bytes.Buffer
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errOut)
	err = root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestConfigPrint(t *testing.T) {
	hash := auth.HashKey("k")
	path := filepath.Join(t.TempDir(), "altar.yaml")
	if err := os.WriteFile(path, []byte("host_id: printed\nkeys:\n  - {id: a, role: admin, hash: "+hash+"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ALTAR_SESSIONS_MAX_TTL", "2h")
	out, stderr, err := runSub(t, newConfigCommand(), "", "config", "print", "--config", path)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, want := range []string{"host_id: printed\n", "  max_ttl: 2h0m0s\n", "  default_ttl: 30m0s\n", "hash: " + hash, "addr: 127.0.0.1:50051"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// What it prints loads back to the same configuration.
	back := filepath.Join(t.TempDir(), "back.yaml")
	if err := os.WriteFile(back, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := config.Load(back, nil)
	if err != nil {
		t.Fatalf("the printed config does not load: %v\n%s", err, out)
	}
	if f.HostID != "printed" || f.Sessions.MaxTTL.String() != "2h0m0s" || len(f.Keys) != 1 || f.Keys[0].Hash != hash {
		t.Errorf("loaded back %+v", f)
	}
}

func TestConfigPrintRefusesBadConfig(t *testing.T) {
	t.Setenv("ALTAR_MODE", "lax")
	t.Setenv("ALTAR_SESSIONS_DEFAULT_TTL", "48h") // longer than max_ttl: Validate's rule
	_, stderr, err := runSub(t, newConfigCommand(), "", "config", "print")
	var exit exitError
	if !errors.As(err, &exit) || exit.code != 1 || !strings.Contains(stderr, "from ALTAR_MODE") {
		t.Fatalf("err %v, stderr:\n%s", err, stderr)
	}
	t.Setenv("ALTAR_MODE", "strict")
	_, stderr, err = runSub(t, newConfigCommand(), "", "config", "print")
	if !errors.As(err, &exit) || !strings.Contains(stderr, "sessions.default_ttl") {
		t.Fatalf("err %v, stderr:\n%s", err, stderr)
	}
}

func TestKeysHash(t *testing.T) {
	for _, tc := range []struct {
		name, stdin, want string
	}{
		{"a line", "s3cret\n", auth.HashKey("s3cret") + "\n"},
		{"no newline", "s3cret", auth.HashKey("s3cret") + "\n"},
		{"spaces trimmed like the gateway does", "  s3cret \r\n", auth.HashKey("s3cret") + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := runSub(t, newKeysCommand(), tc.stdin, "keys", "hash")
			if err != nil || out != tc.want {
				t.Errorf("got %q, %v; want %q", out, err, tc.want)
			}
		})
	}
	for _, stdin := range []string{"", "\n"} {
		if _, _, err := runSub(t, newKeysCommand(), stdin, "keys", "hash"); err == nil {
			t.Errorf("stdin %q: no error", stdin)
		}
	}
	if _, _, err := runSub(t, newKeysCommand(), "", "keys", "hash", "--generate", "--role", "root"); err == nil {
		t.Error("--role root: no error")
	}
}

func TestKeysHashGenerate(t *testing.T) {
	out, _, err := runSub(t, newKeysCommand(), "", "keys", "hash", "--generate", "--id", "ci", "--role", "admin")
	if err != nil {
		t.Fatal(err)
	}
	var key, hash string
	for _, line := range strings.Split(out, "\n") {
		if k, ok := strings.CutPrefix(line, "key:  "); ok {
			key = k
		}
		if h, ok := strings.CutPrefix(line, "hash: "); ok {
			hash = h
		}
	}
	if len(key) != 2*newKeyBytes || hash != auth.HashKey(key) {
		t.Fatalf("key %q hash %q:\n%s", key, hash, out)
	}
	// The printed variable configures a gateway that accepts the key.
	env := "ALTAR_KEYS=ci:admin:" + hash
	if !strings.Contains(out, env) {
		t.Fatalf("output lacks %s:\n%s", env, out)
	}
	f, err := config.Load("", []string{env})
	if err != nil {
		t.Fatal(err)
	}
	ks, err := auth.NewKeySet(f.Config().Keys)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := ks.Authenticate("Bearer " + key); err != nil || p.ID != "ci" || p.Role != auth.RoleAdmin {
		t.Errorf("Authenticate = %+v, %v", p, err)
	}
}
