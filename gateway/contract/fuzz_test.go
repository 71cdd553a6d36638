package contract

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// FuzzParseManifest checks that Parse never panics or hangs, that it fails
// only with a well-formed INVALID_MANIFEST error, and that whatever it
// accepts FromProto accepts too (the two apply the same rules).
//
//	go test ./gateway/contract/ -run '^$' -fuzz FuzzParseManifest -fuzztime 20s -fuzzminimizetime 2s
//
// Minimizing a new input of a few kilobytes can take the default minute,
// during which the fuzzer shows 0 execs/sec; a short -fuzzminimizetime keeps
// it fuzzing. A bare "context deadline exceeded" at the -fuzztime boundary,
// with no input written to testdata/fuzz, is a race in Go 1.26's fuzzing
// coordinator (go.dev/issue/75804, fixed in Go 1.27), not a finding; a
// count such as -fuzztime 30000x avoids it.
// slowParse is far above what any fuzz input should cost, even on a loaded
// machine: the bounds on input exist so that nothing comes near it.
const slowParse = 10 * time.Second

func FuzzParseManifest(f *testing.F) {
	for _, pattern := range []string{examples + "/*.yaml", examples + "/*.json", "testdata/*.yaml", "testdata/*.json", "testdata/bad/*.yaml", "testdata/bad/*.json"} {
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			if !IsManifestFile(p) {
				continue
			}
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
	}
	for _, s := range []string{
		"",
		"manifest_version: \"1.0\"\ncontracts: [{name: a, version: 1.0.0}]\n",
		"a: &a [*a]\n",
		"<<: {a: 1}\n",
		"{\"contracts\": [{\"parameters\": {\"type\": \"object\", \"properties\": {\"x\": {\"type\": \"bytes\", \"default\": \"AA==\"}}}}]}",
		"- !!binary |\n  aGk=\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		m, err := Parse("fuzz.yaml", data)
		if d := time.Since(start); d > slowParse {
			t.Fatalf("Parse of %d bytes took %v", len(data), d)
		}
		if err != nil {
			var ae *altarerr.Error
			if !errors.As(err, &ae) || ae.Code != altarv1.ErrorCode_ERROR_CODE_INVALID_MANIFEST || len(ae.Fields) == 0 {
				t.Fatalf("Parse error is not a well-formed INVALID_MANIFEST: %#v", err)
			}
			for _, f := range ae.Fields {
				if f.GetFile() != "fuzz.yaml" || f.GetMessage() == "" || f.GetRule() == "" {
					t.Fatalf("field error without file, message or rule: %v", f)
				}
			}
			return
		}
		if len(m.Contracts) != len(m.Proto.GetContracts()) || len(m.Contracts) == 0 {
			t.Fatalf("%d contracts for %d in the proto", len(m.Contracts), len(m.Proto.GetContracts()))
		}
		if _, err := FromProto(m.Proto); err != nil {
			t.Fatalf("Parse accepted what FromProto refuses: %v", err)
		}
	})
}
