package conformance

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// buildTimeout bounds building the Go conformance runtime (a cold build
// cache on a loaded machine is slow).
const buildTimeout = 5 * time.Minute

var updateMatrix = flag.Bool("update-matrix", false, "write the compatibility matrix of this run into docs/compatibility.md")

var (
	// binDir holds the binaries; TestMain creates and removes it.
	binDir string
	// goRuntimeBin is the Go conformance runtime, built by buildGoRuntime.
	goRuntimeBin string
	// goBuildErr says why it could not be built.
	goBuildErr  error
	goBuildOnce sync.Once
)

// buildGoRuntime builds the Go conformance runtime once per run. It is
// called from a test, not from TestMain, so that go test's result cache
// sees the sources it stats.
func buildGoRuntime() {
	goBuildOnce.Do(func() {
		goRuntimeBin = filepath.Join(binDir, "goruntime")
		goBuildErr = build(goRuntimeBin, "github.com/altar-gateway/altar/e2e/conformance/goruntime")
	})
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := run(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "conformance: goroutines leaked:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "altar-conformance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	code := m.Run()
	if testing.Short() || !results.ran() {
		return code
	}
	table := results.markdown()
	fmt.Printf("\nALTAR runtime compatibility matrix (go test ./e2e/conformance):\n\n%s\n%s\n", table, results.timings())
	if *updateMatrix {
		if err := writeMatrix(docsPath, table); err != nil {
			fmt.Fprintln(os.Stderr, "conformance:", err)
			return 1
		}
		fmt.Printf("wrote the matrix into %s\n", docsPath)
	} else if code == 0 && results.complete() {
		if err := checkMatrix(docsPath, table); err != nil {
			fmt.Fprintln(os.Stderr, "conformance:", err)
			return 1
		}
	}
	return code
}

func build(bin, pkg string) error {
	// The go command's own stat of the sources is what go test's cache
	// does not see; statting them here puts them in the test's cache key.
	if err := statSources(repoRoot); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg).CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	return nil
}

// statSources stats the module's Go sources, manifests and the other
// runtimes' sources, so that a change to any of them reruns the suite
// instead of reusing go test's cached result.
func statSources(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".mod", ".sum", ".yaml", ".py", ".js", ".json":
			_, err = os.Stat(path)
		}
		return err
	})
}
