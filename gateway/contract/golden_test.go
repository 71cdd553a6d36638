package contract

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/altar-gateway/altar/gateway/altarerr"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestGolden loads each manifest under testdata/bad and compares its report,
// one altarerr.FormatField line per problem, with the .golden file beside it.
// Run `go test ./gateway/contract/ -run TestGolden -update` after a
// deliberate change, and read the diff.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, path := range files {
		if strings.HasSuffix(path, ".golden") {
			continue
		}
		n++
		t.Run(filepath.Base(path), func(t *testing.T) {
			_, err := LoadFile(filepath.ToSlash(path))
			if err == nil {
				t.Fatalf("%s loads without a problem", path)
			}
			var b strings.Builder
			for _, f := range fieldsOf(err) {
				b.WriteString(altarerr.FormatField(f))
				b.WriteByte('\n')
			}
			got := b.String()
			golden := strings.TrimSuffix(path, filepath.Ext(path)) + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("report of %s differs from %s:\n--- got\n%s--- want\n%s", path, golden, got, want)
			}
		})
	}
	if n == 0 {
		t.Fatal("no manifests under testdata/bad")
	}
}
