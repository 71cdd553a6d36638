package conformance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMatrixInDocument checks the matrix's rendering and its round trip
// through a document: cells by check and column, reasons for cells not
// run, -update-matrix replacing only what is between the markers, and the
// check that reports a stale document.
func TestMatrixInDocument(t *testing.T) {
	m := &matrix{cells: map[[2]string]string{}, reasons: map[string]string{}, times: map[[2]string]time.Duration{}}
	m.addColumn("go dial")
	m.addColumn("go plugin")
	m.set("go dial", checks[0].name, true)
	m.set("go dial", checks[1].name, false)
	m.notRun("go dial", checks[1].name, "the runtime did not bootstrap")
	m.skipped("go plugin", checks[0].name)
	m.measure("go dial", "stream", 1500*time.Microsecond)
	table := m.markdown()

	for _, want := range []string{
		"| check | go dial | go plugin |",
		"| " + checks[0].name + " | pass | not run |",
		"| " + checks[1].name + " | FAIL | not run |",
		"| " + checks[2].name + " | not run | not run |",
		"- go dial: not run: the runtime did not bootstrap.",
		"- go plugin: not run: left out by -run.",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("the matrix lacks %q:\n%s", want, table)
		}
	}
	if !m.filtered {
		t.Error("a check left out by -run does not mark the run filtered")
	}
	if got := m.timings(); !strings.Contains(got, "| stream | 2ms |") {
		t.Errorf("timings:\n%s", got)
	}

	path := filepath.Join(t.TempDir(), "compatibility.md")
	doc := "# Title\n\n" + matrixBegin + "\nold table\n" + matrixEnd + "\n\nProse after.\n"
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := checkMatrix(path, table); err == nil || !strings.Contains(err.Error(), "-update-matrix") {
		t.Errorf("a stale matrix: %v", err)
	}
	if err := writeMatrix(path, table); err != nil {
		t.Fatal(err)
	}
	if err := checkMatrix(path, table); err != nil {
		t.Errorf("after writing: %v", err)
	}
	got, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(got), "# Title\n\n"+matrixBegin) || !strings.HasSuffix(string(got), matrixEnd+"\n\nProse after.\n") {
		t.Errorf("writing changed the document around the matrix:\n%s", got)
	}
	if err := os.WriteFile(path, []byte("no markers"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeMatrix(path, table); err == nil {
		t.Error("a document without markers was written")
	}
}
