package conformance

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// docsPath is the compatibility document, from this package's directory.
const docsPath = "../../docs/compatibility.md"

// The matrix's place in docsPath.
const (
	matrixBegin = "<!-- matrix:begin (written by go test ./e2e/conformance -update-matrix) -->"
	matrixEnd   = "<!-- matrix:end -->"
)

// Cell values.
const (
	cellPass   = "pass"
	cellFail   = "FAIL"
	cellNotRun = "not run"
)

// matrix collects the results of a run: a cell per check and column, the
// reasons for cells not run, and timings.
type matrix struct {
	mu      sync.Mutex
	columns []string
	cells   map[[2]string]string // {check, column}
	reasons map[string]string    // column: why (some of) its cells were not run
	times   map[[2]string]time.Duration
	timeKey []string
	// filtered is set when -run left a check out.
	filtered bool
}

var results = &matrix{cells: map[[2]string]string{}, reasons: map[string]string{}, times: map[[2]string]time.Duration{}}

func (m *matrix) addColumn(col string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !slices.Contains(m.columns, col) {
		m.columns = append(m.columns, col)
	}
}

func (m *matrix) set(col, check string, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cells[[2]string{check, col}] = map[bool]string{true: cellPass, false: cellFail}[ok]
}

// skipped marks one cell as not run because -run left its check out.
func (m *matrix) skipped(col, check string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cells[[2]string{check, col}] = cellNotRun
	m.filtered = true
	if m.reasons[col] == "" {
		m.reasons[col] = "left out by -run"
	}
}

// notRun marks the column's cells after the check `after` ("" for all) as
// not run, for reason.
func (m *matrix) notRun(col, after, reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := 0
	if after != "" {
		i = slices.IndexFunc(checks, func(c check) bool { return c.name == after }) + 1
	}
	for _, c := range checks[i:] {
		m.cells[[2]string{c.name, col}] = cellNotRun
	}
	m.reasons[col] = reason
}

func (m *matrix) measure(col, what string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !slices.Contains(m.timeKey, what) {
		m.timeKey = append(m.timeKey, what)
	}
	m.times[[2]string{what, col}] = d
}

// ran reports whether any row ran.
func (m *matrix) ran() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.columns) > 0
}

// complete reports whether every check ran on every runtime in every mode
// (the whole suite, not a -run subset).
func (m *matrix) complete() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.filtered && len(m.columns) == len(runtimes)*len(modes)
}

// markdown is the matrix as a Markdown table, with the reasons for cells
// not run below it.
func (m *matrix) markdown() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	b.WriteString("| check |")
	for _, c := range m.columns {
		fmt.Fprintf(&b, " %s |", c)
	}
	b.WriteString("\n|---|")
	for range m.columns {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, ch := range checks {
		fmt.Fprintf(&b, "| %s |", ch.name)
		for _, c := range m.columns {
			cell := m.cells[[2]string{ch.name, c}]
			if cell == "" {
				cell = cellNotRun
			}
			fmt.Fprintf(&b, " %s |", cell)
		}
		b.WriteString("\n")
	}
	first := true
	for _, c := range m.columns {
		if r := m.reasons[c]; r != "" {
			if first {
				b.WriteString("\n")
				first = false
			}
			fmt.Fprintf(&b, "- %s: not run: %s.\n", c, r)
		}
	}
	return b.String()
}

// timings is what the run measured, as a Markdown table.
func (m *matrix) timings() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.timeKey) == 0 {
		return ""
	}
	var cols []string
	for _, c := range m.columns {
		for _, k := range m.timeKey {
			if _, ok := m.times[[2]string{k, c}]; ok {
				cols = append(cols, c)
				break
			}
		}
	}
	var b strings.Builder
	b.WriteString("Timings of this run:\n\n| measured |")
	for _, c := range cols {
		fmt.Fprintf(&b, " %s |", c)
	}
	b.WriteString("\n|---|")
	for range cols {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for _, k := range m.timeKey {
		fmt.Fprintf(&b, "| %s |", k)
		for _, c := range cols {
			if d, ok := m.times[[2]string{k, c}]; ok {
				fmt.Fprintf(&b, " %v |", d.Round(time.Millisecond))
			} else {
				b.WriteString(" |")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// splitDoc returns the document around its matrix.
func splitDoc(doc []byte) (before, matrix, after []byte, err error) {
	i := bytes.Index(doc, []byte(matrixBegin))
	j := bytes.Index(doc, []byte(matrixEnd))
	if i < 0 || j < i {
		return nil, nil, nil, fmt.Errorf("%s has no matrix between %q and %q", docsPath, matrixBegin, matrixEnd)
	}
	start := i + len(matrixBegin)
	return doc[:start], doc[start:j], doc[j:], nil
}

// writeMatrix replaces the matrix in the document at path.
func writeMatrix(path, table string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	before, _, after, err := splitDoc(doc)
	if err != nil {
		return err
	}
	out := slices.Concat(before, []byte("\n"+table), after)
	return os.WriteFile(path, out, 0o644)
}

// checkMatrix reports a document whose matrix is not table.
func checkMatrix(path, table string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	_, got, _, err := splitDoc(doc)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(got)) != strings.TrimSpace(table) {
		return fmt.Errorf("%s does not show this run's matrix; if the change is right, run go test ./e2e/conformance -update-matrix", path)
	}
	return nil
}
