package mcp_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mcpbridge "github.com/altar-gateway/altar/bridges/mcp"
	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func def(name, desc string) mcpbridge.Definition {
	return mcpbridge.Definition{Name: name, Description: desc, InputSchema: json.RawMessage(`{"type":"object"}`)}
}

// TestLockApproveAndDiff: approving pins what the server lists now, one
// tool or all; Diff names what changed.
func TestLockApproveAndDiff(t *testing.T) {
	path := filepath.Join(t.TempDir(), mcpbridge.DefaultLockFile)
	l, err := mcpbridge.ReadLock(path) // missing: empty
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	if done, err := l.Approve("s", []mcpbridge.Definition{def("a", "A"), def("b", "B")}, now); err != nil || !slices.Equal(done, []string{"a", "b"}) {
		t.Fatalf("first approve: %v, %v", done, err)
	}
	if err := l.Write(path); err != nil {
		t.Fatal(err)
	}
	l, err = mcpbridge.ReadLock(path)
	if err != nil {
		t.Fatal(err)
	}
	live := []mcpbridge.Definition{def("a", "A changed"), def("c", "C")}
	tests := []struct {
		tool, kind string
		fields     []string
	}{
		{"a", mcpbridge.ChangeChanged, []string{"description"}},
		{"b", mcpbridge.ChangeRemoved, nil},
		{"c", mcpbridge.ChangeNew, nil},
	}
	diff := mcpbridge.Diff(l.Server("s"), live)
	if len(diff) != len(tests) {
		t.Fatalf("diff %+v", diff)
	}
	for i, tt := range tests {
		if diff[i].Tool != tt.tool || diff[i].Kind != tt.kind || !slices.Equal(diff[i].Fields, tt.fields) {
			t.Errorf("diff[%d] = %+v, want %+v", i, diff[i], tt)
		}
	}
	if _, err := l.Approve("s", live, now, "zzz"); altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_NOT_FOUND {
		t.Fatalf("approving an unknown tool: %v", err)
	}
	if done, err := l.Approve("s", live, now, "c"); err != nil || !slices.Equal(done, []string{"c"}) {
		t.Fatalf("approve c: %v, %v", done, err)
	}
	if got := mcpbridge.Diff(l.Server("s"), live); got[0].Kind != mcpbridge.ChangeChanged || got[2].Kind != mcpbridge.ChangeNone {
		t.Fatalf("after approving c: %+v", got)
	}
	if done, _ := l.Approve("s", live, now); !slices.Equal(done, []string{"a", "b"}) {
		t.Fatalf("approve all: %v", done)
	}
	for _, c := range mcpbridge.Diff(l.Server("s"), live) {
		if c.Kind != mcpbridge.ChangeNone {
			t.Fatalf("after approving all: %+v", c)
		}
	}
}

// TestLockRefusesEdits: a pin whose definition was edited by hand no
// longer matches its hash, and the lock file is refused naming the field.
func TestLockRefusesEdits(t *testing.T) {
	path := filepath.Join(t.TempDir(), mcpbridge.DefaultLockFile)
	l, _ := mcpbridge.ReadLock(path)
	if _, err := l.Approve("s", []mcpbridge.Definition{def("a", "Harmless.")}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := l.Write(path); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), "Harmless.", "Sneaky.", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := mcpbridge.ReadLock(path)
	fields := altarerr.From(err).Fields
	if altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG || len(fields) != 1 || fields[0].GetPath() != "/servers/s/tools/a/sha256" {
		t.Fatalf("an edited lock file: %v", err)
	}
	// RepairLock leaves the damaged pin out, so that approving pins it again.
	repaired, damaged, err := mcpbridge.RepairLock(path)
	if err != nil || damaged == nil || repaired.Server("s").Tools["a"] != nil {
		t.Fatalf("repair: %v, %v, %+v", err, damaged, repaired)
	}
	if err := os.WriteFile(path, []byte(`{"lock_version":1,"servers":{},"extra":1}`), 0o644); err == nil {
		if _, err := mcpbridge.ReadLock(path); altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG {
			t.Fatalf("an unknown key: %v", err)
		}
	}
}
