package contract_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/contract"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func sourceContracts(t *testing.T, descs map[string]string) []*contract.Contract {
	t.Helper()
	m := &altarv1.ToolManifest{ManifestVersion: "1.0"}
	for _, name := range slices.Sorted(maps.Keys(descs)) {
		m.Contracts = append(m.Contracts, &altarv1.ToolContract{Name: name, Version: "1.0.0", Description: descs[name],
			Parameters: &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_OBJECT}})
	}
	mf, err := contract.FromProto(m)
	if err != nil {
		t.Fatal(err)
	}
	return mf.Contracts
}

func trustedNames(r *contract.Registry) []string {
	var out []string
	for _, c := range r.Trusted() {
		out = append(out, c.Name())
	}
	return out
}

// TestSetSourceSurvivesReload: a bridge's contracts are set under a source
// of their own, replaced as a whole, refused when they collide, and kept by
// a manifest reload.
func TestSetSourceSurvivesReload(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/m.yaml"
	if err := writeFile(path, registryManifest); err != nil {
		t.Fatal(err)
	}
	r := contract.NewRegistry()
	if _, err := r.LoadPaths("config", path); err != nil {
		t.Fatal(err)
	}
	if _, err := r.SetSource("bridge", "mcp:x", sourceContracts(t, map[string]string{"x.echo": "Echo.", "x.sum": "Sum."})); err != nil {
		t.Fatal(err)
	}
	r.Fulfill(rt("mcp:x"), offer("x.echo", ""))
	if _, err := r.Resolve("", "mcp:x/x.echo"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reload("admin"); err != nil {
		t.Fatal(err)
	}
	if got := trustedNames(r); !slices.Contains(got, "x.echo") || !slices.Contains(got, "x.sum") || !slices.Contains(got, "count") {
		t.Fatalf("after reload the trusted contracts are %v", got)
	}
	if _, err := r.Resolve("", "mcp:x/x.echo"); err != nil {
		t.Fatalf("the reload dropped the bridge's unchanged binding: %v", err)
	}

	// Replacing the source drops what it no longer has and unbinds what changed.
	if _, err := r.SetSource("bridge", "mcp:x", sourceContracts(t, map[string]string{"x.echo": "Echo, changed."})); err != nil {
		t.Fatal(err)
	}
	if got := trustedNames(r); slices.Contains(got, "x.sum") || !slices.Contains(got, "x.echo") {
		t.Fatalf("after replacing the source: %v", got)
	}
	if _, err := r.Resolve("", "mcp:x/x.echo"); err == nil {
		t.Fatal("a binding to a changed contract survived")
	}

	// A name a manifest already trusts is refused, and nothing changes.
	_, err := r.SetSource("bridge", "mcp:y", sourceContracts(t, map[string]string{"count": "Mine."}))
	if altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_NAME_COLLISION {
		t.Fatalf("collision: %v", err)
	}
	info, err := r.GetContract("", "count", "")
	if err != nil || info.GetContract().GetDescription() != "Count." {
		t.Fatalf("count after a refused collision: %v, %v", info, err)
	}

	// An empty set removes the source.
	if _, err := r.SetSource("bridge", "mcp:x", nil); err != nil {
		t.Fatal(err)
	}
	if got := trustedNames(r); slices.Contains(got, "x.echo") {
		t.Fatalf("after removing the source: %v", got)
	}
}
