package conformance

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// runtimeSpec is one runtime implementation under test. It runs in every
// mode (dial and plugin); adding a runtime is one row of runtimes.
type runtimeSpec struct {
	// Name is its column in the matrix.
	Name string
	// Language is what it must announce and what conformance.pid reports.
	Language string
	// Command starts it: the program and its arguments, in which $ROOT is
	// the repository's root and $GORUNTIME the Go conformance runtime built
	// by TestMain. It reads ALTAR_HOST and ALTAR_RUNTIME_ID.
	Command []string
	// Env is added to its environment.
	Env []string
	// Prerequisites says what is missing to run it, and what to run to get
	// it, or nil.
	Prerequisites func() error
}

// runtimes are the implementations under test.
var runtimes = []runtimeSpec{
	{
		Name: "go", Language: "go",
		Command:       []string{"$GORUNTIME"},
		Prerequisites: func() error { return goBuildErr },
	},
	{
		Name: "python", Language: "python",
		// Only Debian's python3 has grpcio (see /work/shared/NOTES.md).
		Command:       []string{"/usr/bin/python3", "$ROOT/examples/python-runtime/conformance.py"},
		Env:           []string{"PYTHONUNBUFFERED=1"},
		Prerequisites: pythonPrerequisites,
	},
	{
		Name: "node", Language: "node",
		Command:       []string{"node", "$ROOT/examples/node-runtime/conformance.js"},
		Prerequisites: nodePrerequisites,
	},
}

// mode is how a runtime reaches the Host.
type mode string

const (
	// dial: the suite starts the runtime, which dials the Host's
	// RuntimeService at ALTAR_HOST.
	dial mode = "dial"
	// plugin: the Host launches the runtime as a go-plugin subprocess
	// (plugins/launch) and dials it.
	plugin mode = "plugin"
)

var modes = []mode{dial, plugin}

// pending says why a mode cannot run yet ("" when it can). A pending mode's
// cells are "not run" in the matrix, with this reason; nothing stands in for
// them.
var pending = map[mode]string{}

// repoRoot is the repository's root, from this package's directory.
const repoRoot = "../.."

// expand replaces $ROOT and $GORUNTIME in a command.
func expand(argv []string) []string {
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		root = repoRoot
	}
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = os.Expand(a, func(k string) string {
			switch k {
			case "ROOT":
				return root
			case "GORUNTIME":
				return goRuntimeBin
			}
			return "$" + k
		})
	}
	return out
}

func pythonPrerequisites() error {
	script := filepath.Join(repoRoot, "examples/python-runtime/conformance.py")
	if _, err := os.Stat(script); err != nil {
		return fmt.Errorf("the Python conformance runtime is missing: %w", err)
	}
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		return errors.New("/usr/bin/python3 is missing: install Debian's python3 (run .ci/run)")
	}
	if out, err := exec.Command("/usr/bin/python3", "-c", "import grpc, google.protobuf").CombinedOutput(); err != nil {
		return fmt.Errorf("/usr/bin/python3 cannot import grpc and protobuf (%v: %s): run .ci/run, which installs python3-grpcio and python3-protobuf", err, out)
	}
	return nil
}

func nodePrerequisites() error {
	script := filepath.Join(repoRoot, "examples/node-runtime/conformance.js")
	if _, err := os.Stat(script); err != nil {
		return fmt.Errorf("the Node.js conformance runtime is missing: %w", err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		return errors.New("node is not on PATH: install Node.js 20 or later")
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "examples/node-runtime/node_modules")); err != nil {
		return errors.New("examples/node-runtime/node_modules is missing: run `npm ci` in examples/node-runtime (or .ci/run)")
	}
	return nil
}
