// Package e2e holds ALTAR's end-to-end tests: they build the real altar
// binary and the example calculator runtime, start `altar serve` as a
// subprocess with a temporary altar.yaml, and talk to it over HTTP/JSON,
// gRPC, Server-Sent Events and WebSocket as a client would.
//
// The binaries are built once per run of the test binary, by the first
// test that needs them. Every process a test starts is stopped by t.Cleanup; goleak checks that
// no goroutine of the test binary outlives the tests. With -short the
// tests are skipped (they build binaries and start processes).
package e2e

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// buildTimeout bounds building each binary (a cold cache on a loaded
// machine is slow).
const buildTimeout = 5 * time.Minute

var (
	// binDir holds the binaries; TestMain creates and removes it.
	binDir string
	// Paths of the binaries, set by needBinaries' first call.
	altarBin, calculatorBin string
	buildOnce               sync.Once
	buildErr                error
)

func TestMain(m *testing.M) {
	var err error
	binDir, err = os.MkdirTemp("", "altar-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	http.DefaultClient.CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: goroutines leaked:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// needBinaries skips t under -short; otherwise it builds the altar and
// calculator binaries on its first call (once per run of the test binary).
func needBinaries(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: builds binaries and starts processes")
	}
	buildOnce.Do(func() {
		// Within a test, so that go test's result cache records the stats.
		if buildErr = statSources(".."); buildErr != nil {
			return
		}
		altarBin = filepath.Join(binDir, "altar")
		calculatorBin = filepath.Join(binDir, "calculator")
		for bin, pkg := range map[string]string{
			altarBin:      "github.com/altar-gateway/altar/cmd/altar",
			calculatorBin: "github.com/altar-gateway/altar/plugins/examples/calculator",
		} {
			if buildErr = build(bin, pkg); buildErr != nil {
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

func build(bin, pkg string) error {
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg).CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	return nil
}

// statSources stats every Go source, go.mod, go.sum and manifest of the
// module under root. The binaries are built by a subprocess, which go test's
// result cache does not see; the files a test stats are part of its cache
// key, so a change to cmd/altar or the manifests reruns these tests.
func statSources(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".mod", ".sum", ".yaml":
			_, err = os.Stat(path)
		}
		return err
	})
}
