package contract

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	yaml "github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"

	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// manifestSchema compiles manifests/manifest.schema.json.
func manifestSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile(filepath.Join(examples, "manifest.schema.json"))
	if err != nil {
		t.Fatalf("manifest.schema.json does not compile: %v", err)
	}
	return sch
}

// instance reads a YAML or JSON manifest as plain data for the JSON Schema
// validator.
func instance(t *testing.T, name string, data []byte) any {
	t.Helper()
	if strings.HasSuffix(name, ".json") {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v
	}
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// TestManifestSchemaAcceptsExamples: every example manifest (and the
// all-keys test manifest) is valid by the JSON Schema and by the loader.
func TestManifestSchemaAcceptsExamples(t *testing.T) {
	sch := manifestSchema(t)
	var paths []string
	for _, pattern := range []string{examples + "/*", "testdata/all_keys.*"} {
		found, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range found {
			if IsManifestFile(p) {
				paths = append(paths, p)
			}
		}
	}
	if len(paths) < 5 {
		t.Fatalf("only %d manifests found: %v", len(paths), paths)
	}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(instance(t, path, data)); err != nil {
			t.Errorf("%s is invalid by manifest.schema.json: %v", path, err)
		}
		if _, err := Parse(path, data); err != nil {
			t.Errorf("%s is refused by the loader: %v", path, err)
		}
	}
}

// TestManifestSchemaRefuses: manifests that break a rule the JSON Schema
// can express are refused by both the JSON Schema and the loader.
func TestManifestSchemaRefuses(t *testing.T) {
	sch := manifestSchema(t)
	contract := func(lines string) string { return header + lines }
	for _, tc := range []struct {
		name, src string
	}{
		{"missing manifest_version", "contracts:\n  - name: t\n    version: 1.0.0\n"},
		{"other manifest_version", "manifest_version: \"2.0\"\ncontracts:\n  - name: t\n    version: 1.0.0\n"},
		{"no contracts", "manifest_version: \"1.0\"\ncontracts: []\n"},
		{"unknown top-level key", contract("owner: me\n")},
		{"unknown contract key", contract("    descripton: x\n")},
		{"bad name", "manifest_version: \"1.0\"\ncontracts:\n  - name: 9lives\n    version: 1.0.0\n"},
		{"long name", "manifest_version: \"1.0\"\ncontracts:\n  - name: " + strings.Repeat("n", 65) + "\n    version: 1.0.0\n"},
		{"bad version", "manifest_version: \"1.0\"\ncontracts:\n  - name: t\n    version: v1\n"},
		{"missing version", "manifest_version: \"1.0\"\ncontracts:\n  - name: t\n"},
		{"parameters not an object", contract("    parameters: {type: array}\n")},
		{"unknown type", contract("    return_type: {type: strng}\n")},
		{"no type", contract("    return_type: {description: x}\n")},
		{"unknown schema key", contract("    return_type: {type: string, maxLength: 3}\n")},
		{"negative min_length", contract("    return_type: {type: string, min_length: -1}\n")},
		{"bad property name", contract("    parameters:\n      type: object\n      properties: {\"a b\": {type: string}}\n")},
		{"multiple_of zero", contract("    return_type: {type: number, multiple_of: 0}\n")},
		{"negative timeout_ms", contract("    timeout_ms: -1\n")},
		{"negative cache_ttl_ms", contract("    cache_ttl_ms: -1\n")},
		{"cache_ttl_ms without cacheable", contract("    cache_ttl_ms: 5\n    flags: {idempotent: true}\n")},
		{"compliance_level 4", contract("    compliance_level: 4\n")},
		{"streaming at level 1", contract("    supports_streaming: true\n    compliance_level: 1\n")},
		{"empty scheme", contract("    security_requirements: [{scheme: \"\"}]\n")},
		{"unknown security key", contract("    security_requirements: [{scheme: bearer, scope: [a]}]\n")},
		{"read_only and destructive", contract("    flags: {read_only: true, destructive: true}\n")},
		{"deprecation_message alone", contract("    flags: {deprecation_message: old}\n")},
		{"unknown flag", contract("    flags: {readonly: true}\n")},
		{"flag not a boolean", contract("    flags: {read_only: \"yes\"}\n")},
		{"unknown capability", contract("    required_capabilities: [telepathy]\n")},
		{"duplicate capability", contract("    required_capabilities: [streaming, streaming]\n")},
		{"metadata value not a string", contract("    metadata: {n: 1}\n")},
		{"description not a string", contract("    description: 42\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := sch.Validate(instance(t, "t.yaml", []byte(tc.src))); err == nil {
				t.Error("manifest.schema.json accepts it")
			}
			if _, err := Parse("t.yaml", []byte(tc.src)); err == nil {
				t.Error("the loader accepts it")
			}
		})
	}
}

// TestManifestSchemaCapabilitiesMatchTheProtocol keeps the JSON Schema's
// list of well-known capabilities equal to the one in capabilities.go.
func TestManifestSchemaCapabilitiesMatchTheProtocol(t *testing.T) {
	data, err := os.ReadFile("../../manifests/manifest.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Defs map[string]struct {
			AnyOf []struct {
				Enum []string `json:"enum"`
			} `json:"anyOf"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, alt := range doc.Defs["capability"].AnyOf {
		listed = append(listed, alt.Enum...)
	}
	want := altarv1.KnownCapabilities()
	slices.Sort(listed)
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Fatalf("manifest.schema.json lists capabilities %v; capabilities.go has %v", listed, want)
	}
}
