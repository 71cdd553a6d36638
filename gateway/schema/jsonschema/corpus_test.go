package jsonschema_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	sjs "github.com/santhosh-tekuri/jsonschema/v6"
	"pgregory.net/rapid"

	"github.com/altar-gateway/altar/gateway/schema"
	"github.com/altar-gateway/altar/gateway/schema/jsonschema"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/golden")

// lossy lists corpus documents with keywords ALTAR drops: they must import
// (with warnings), but their export is not expected to mean the same.
var lossy = map[string]bool{"lossy_keywords.json": true}

// noOracle lists documents santhosh-tekuri/jsonschema cannot judge as their
// authors meant: OpenAPI 3.0's nullable and boolean exclusiveMinimum are not
// JSON Schema 2020-12.
var noOracle = map[string]bool{"openapi30_pet.json": true}

func corpusFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	return files
}

// TestCorpus imports real-world style schemas (MCP servers' inputSchemas,
// OpenAPI 3.0, draft-07 with definitions, draft-04) and checks that each
// imports, compiles in ALTAR, exports to a valid JSON Schema in both drafts,
// exports to what the source says once the documented differences are
// normalised away, accepts and rejects the same instances as the source,
// and matches its golden file.
func TestCorpus(t *testing.T) {
	for _, file := range corpusFiles(t) {
		name := filepath.Base(file)
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			ps, warns, err := jsonschema.Import(src)
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			if lossy[name] && len(warns) == 0 {
				t.Errorf("a lossy document imported without warnings")
			}
			if _, err := schema.Compile(ps); err != nil {
				t.Errorf("schema.Compile(Import(doc)): %v", err)
			}
			out, err := jsonschema.ExportJSON(ps)
			if err != nil {
				t.Fatalf("ExportJSON: %v", err)
			}
			for _, d := range drafts {
				doc, err := jsonschema.ExportJSON(ps, jsonschema.WithDraft(d.draft), jsonschema.WithSchemaURI())
				if err != nil {
					t.Fatal(err)
				}
				if _, err := compileJSONSchema(doc, d.sjs); err != nil {
					t.Errorf("export is not a valid %s JSON Schema: %v", d.draft, err)
				}
			}
			if !lossy[name] {
				want := normalizeDoc(t, decodeAny(t, src))
				got := decodeAny(t, out)
				if !reflect.DeepEqual(want, got) {
					t.Errorf("Export(Import(doc)) differs from the normalised source\nwant: %s\ngot:  %s", mustJSON(t, want), mustJSON(t, got))
				}
			}
			if !lossy[name] && !noOracle[name] && !t.Failed() {
				sameVerdicts(t, src, out)
			}
			checkGolden(t, filepath.Join("testdata", "golden", "corpus", name), corpusGolden(t, out, warns))
		})
	}
}

// sameVerdicts validates generated instances (mostly near-valid, some
// mutated) against the source and the export with santhosh-tekuri/jsonschema
// and requires the same verdict for each.
func sameVerdicts(t *testing.T, src, out []byte) {
	t.Helper()
	orig, err := compileJSONSchema(src, sjs.Draft2020)
	if err != nil {
		t.Fatalf("source does not compile: %v", err)
	}
	exp, err := compileJSONSchema(out, sjs.Draft2020)
	if err != nil {
		t.Fatalf("export does not compile: %v", err)
	}
	imported, _, _ := jsonschema.Import(src)
	valid := 0
	rapid.Check(t, func(rt *rapid.T) {
		for range 10 {
			inst := drawInstance(rt, imported, 1)
			raw, err := json.Marshal(inst)
			if err != nil {
				rt.Fatal(err)
			}
			v, err := sjs.UnmarshalJSON(bytes.NewReader(raw))
			if err != nil {
				rt.Fatal(err)
			}
			e1, e2 := orig.Validate(v), exp.Validate(v)
			if (e1 == nil) != (e2 == nil) {
				rt.Fatalf("verdicts differ for %s\nsource: %v\nexport: %v", raw, e1, e2)
			}
			if e1 == nil {
				valid++
			}
		}
	})
	if valid == 0 {
		t.Errorf("no generated instance was valid: the comparison proves little")
	}
}

type golden struct {
	Export   json.RawMessage `json:"export"`
	Warnings []string        `json:"warnings,omitempty"`
}

func corpusGolden(t *testing.T, out []byte, warns []jsonschema.Warning) []byte {
	t.Helper()
	g := golden{Export: out}
	for _, w := range warns {
		g.Warnings = append(g.Warnings, w.String())
	}
	return indentJSON(t, mustJSON(t, g))
}

func indentJSON(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		t.Fatal(err)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs (run go test -update if the change is intended)\nwant:\n%s\ngot:\n%s", path, want, got)
	}
}

func decodeAny(t testing.TB, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(buf.Bytes())
}

// normalizeDoc rewrites a source document the way Export(Import(doc)) is
// documented to differ from it: $refs inlined and single allOfs merged,
// annotations ALTAR does not keep removed, draft-04 exclusive bounds as
// numbers, const as enum, oneOf as anyOf, nullable as a type list (dropped
// when an enum leaves null out), format "byte" as contentEncoding,
// writeOnly with x-altar-sensitive, additionalProperties true removed, and an
// anyOf of bare types as a type list.
func normalizeDoc(t *testing.T, doc any) any {
	t.Helper()
	root := doc
	var norm func(n any, depth int) any
	norm = func(n any, depth int) any {
		if depth > 64 {
			t.Fatal("normalizeDoc: too deep")
		}
		if n == true {
			return map[string]any{}
		}
		m0, ok := n.(map[string]any)
		if !ok {
			return n
		}
		m := clone(m0)
		if ref, ok := m["$ref"].(string); ok {
			delete(m, "$ref")
			target := lookup(t, root, ref)
			return norm(overlay(target, m), depth+1)
		}
		if all, ok := m["allOf"].([]any); ok && len(all) == 1 {
			delete(m, "allOf")
			return norm(overlay(norm(all[0], depth+1).(map[string]any), m), depth+1)
		}
		for _, k := range []string{"$schema", "$id", "$comment", "$defs", "definitions", "examples", "example", "readOnly", "deprecated", "contentMediaType"} {
			delete(m, k)
		}
		for _, b := range [][2]string{{"exclusiveMinimum", "minimum"}, {"exclusiveMaximum", "maximum"}} {
			if flag, ok := m[b[0]].(bool); ok {
				delete(m, b[0])
				if flag {
					m[b[0]] = m[b[1]]
					delete(m, b[1])
				}
			}
		}
		if c, ok := m["const"]; ok {
			delete(m, "const")
			m["enum"] = []any{c}
		}
		if o, ok := m["oneOf"]; ok {
			delete(m, "oneOf")
			m["anyOf"] = o
		}
		types := typeList(m["type"])
		if m["nullable"] == true && types != nil && !slices.Contains(types, "null") {
			types = append(types, "null")
		}
		delete(m, "nullable")
		if e, ok := m["enum"].([]any); ok && slices.Contains(types, "null") {
			if slices.Contains(e, nil) {
				e = append(slices.DeleteFunc(slices.Clone(e), func(x any) bool { return x == nil }), nil)
				m["enum"] = e
			} else {
				types = slices.DeleteFunc(types, func(s string) bool { return s == "null" })
			}
		}
		if types != nil {
			slices.SortStableFunc(types, func(a, b string) int {
				switch {
				case a == "null" && b != "null":
					return 1
				case b == "null" && a != "null":
					return -1
				}
				return 0
			})
			if len(types) == 1 {
				m["type"] = types[0]
			} else {
				m["type"] = anySlice(types)
			}
		}
		if m["format"] == "byte" && types != nil && types[0] == "string" {
			delete(m, "format")
			m["contentEncoding"] = "base64"
		}
		if m["writeOnly"] == true {
			m["x-altar-sensitive"] = true
		}
		if _, isSchema := m["additionalProperties"].(map[string]any); isSchema || m["additionalProperties"] == true {
			delete(m, "additionalProperties")
		}
		if props, ok := m["properties"].(map[string]any); ok {
			np := map[string]any{}
			for k, v := range props {
				np[k] = norm(v, depth+1)
			}
			m["properties"] = np
		}
		if items, ok := m["items"]; ok {
			m["items"] = norm(items, depth+1)
		}
		if alts, ok := m["anyOf"].([]any); ok {
			var na []any
			for _, a := range alts {
				na = append(na, norm(a, depth+1))
			}
			m["anyOf"] = na
			if _, typed := m["type"]; !typed {
				if names := bareTypeNames(na); names != nil {
					delete(m, "anyOf")
					m["type"] = names
				}
			}
		}
		return m
	}
	return decodeAny(t, mustJSON(t, norm(doc, 0)))
}

// bareTypeNames is the type list an anyOf of two or more distinct bare
// types (and a bare null, written last) stands for.
func bareTypeNames(alts []any) []any {
	var names []any
	null := false
	for _, a := range alts {
		m, ok := a.(map[string]any)
		if !ok || len(m) != 1 {
			return nil
		}
		s, _ := m["type"].(string)
		switch {
		case s == "null" && !null:
			null = true
		case slices.Contains([]string{"string", "integer", "number", "boolean", "array"}, s) && !slices.Contains(names, any(s)):
			names = append(names, s)
		default:
			return nil
		}
	}
	if len(names) < 2 {
		return nil
	}
	if null {
		names = append(names, "null")
	}
	return names
}

func typeList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, s := range x {
			out = append(out, s.(string))
		}
		return out
	}
	return nil
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// overlay returns base with top's keys written over it.
func overlay(base, top map[string]any) map[string]any {
	out := clone(base)
	for k, v := range top {
		out[k] = v
	}
	return out
}

func lookup(t *testing.T, root any, ref string) map[string]any {
	t.Helper()
	n := root
	for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		n = n.(map[string]any)[tok]
	}
	m, ok := n.(map[string]any)
	if !ok {
		t.Fatalf("normalizeDoc: %s does not resolve", ref)
	}
	return m
}
