package contract

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func manifestOf(contracts ...string) string {
	var b strings.Builder
	b.WriteString("manifest_version: \"1.0\"\ncontracts:\n")
	for _, c := range contracts {
		name, version, _ := strings.Cut(c, "@")
		fmt.Fprintf(&b, "  - name: %s\n    version: %s\n", name, version)
	}
	return b.String()
}

func TestLoadPaths(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"b.yaml":                manifestOf("b@1.0.0"),
		"a.yml":                 manifestOf("a@1.0.0", "shared@1.0.0"),
		"sub/c.json":            `{"manifest_version": "1.0", "contracts": [{"name": "shared", "version": "1.0.0"}, {"name": "shared", "version": "2.0.0"}]}`,
		"sub/bad.yaml":          "manifest_version: \"1.0\"\ncontracts: 7\n",
		"manifest.schema.json":  `{"type": "object"}`,
		"notes.txt":             "not a manifest",
		".hidden/x.yaml":        "not even YAML: [",
		"empty/.keep":           "",
		"explicit/manifest.txt": manifestOf("txt@1.0.0"),
	})
	at := func(name string) string { return filepath.Join(dir, filepath.FromSlash(name)) }

	files, err := ExpandPaths(dir, at("b.yaml"), at("explicit/manifest.txt"), at("missing.yaml"), at("empty"))
	wantFiles := []string{at("a.yml"), at("b.yaml"), at("sub/bad.yaml"), at("sub/c.json"), at("explicit/manifest.txt")}
	if !slices.Equal(files, wantFiles) {
		t.Errorf("ExpandPaths files:\n got %q\nwant %q", files, wantFiles)
	}
	var wantFailed []string
	for _, f := range fieldsOf(err) {
		wantFailed = append(wantFailed, f.GetFile()+" ("+f.GetRule()+")")
	}
	if want := []string{at("missing.yaml") + " (file)", at("empty") + " (file)"}; !slices.Equal(wantFailed, want) {
		t.Errorf("ExpandPaths problems %q, want %q", wantFailed, want)
	}

	ms, err := LoadPaths(dir)
	var loaded []string
	for _, m := range ms {
		loaded = append(loaded, m.Source)
	}
	if want := []string{at("a.yml"), at("b.yaml"), at("sub/c.json")}; !slices.Equal(loaded, want) {
		t.Errorf("LoadPaths loaded %q, want %q", loaded, want)
	}
	if altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_INVALID_MANIFEST {
		t.Fatalf("LoadPaths error = %v, want INVALID_MANIFEST", err)
	}
	got := fieldsOf(err)
	want := []string{
		at("sub/bad.yaml") + ":2:12 contracts (kind)",
		at("sub/c.json") + ":1:43 contracts[0] (duplicate)",
	}
	var gotBrief []string
	for _, f := range got {
		gotBrief = append(gotBrief, f.GetFile()+":"+brief([]*altarv1.FieldError{f})[0])
	}
	if !slices.Equal(gotBrief, want) {
		t.Fatalf("LoadPaths problems:\n got %q\nwant %q\n%s", gotBrief, want, formatAll(got))
	}
	if msg := got[1].GetMessage(); !strings.Contains(msg, at("a.yml")+":5:5") {
		t.Errorf("the cross-file duplicate %q does not name the first definition's file and line", msg)
	}
}

func TestLoadFileProblems(t *testing.T) {
	dir := writeFiles(t, map[string]string{"huge.yaml": strings.Repeat("#", MaxFileBytes+1)})
	for _, tc := range []struct {
		path string
		rule string
	}{
		{filepath.Join(dir, "missing.yaml"), RuleFile},
		{dir, RuleFile}, // a folder is not a file
		{filepath.Join(dir, "huge.yaml"), RuleLimit},
	} {
		_, err := LoadFile(tc.path)
		fields := fieldsOf(err)
		if len(fields) != 1 || fields[0].GetRule() != tc.rule || fields[0].GetFile() != tc.path {
			t.Errorf("LoadFile(%s) = %v, want one %q problem", tc.path, err, tc.rule)
		}
	}
}

func TestLimits(t *testing.T) {
	manyKeys := func(n int, flow bool) string {
		var b strings.Builder
		b.WriteString(header + "    metadata:")
		for i := range n {
			if flow {
				sep := ", "
				if i == 0 {
					sep = " {"
				}
				fmt.Fprintf(&b, "%sk%d: v", sep, i)
			} else {
				fmt.Fprintf(&b, "\n      k%d: v", i)
			}
		}
		if flow {
			b.WriteString("}")
		}
		return b.String() + "\n"
	}
	var contracts strings.Builder
	contracts.WriteString(`{"manifest_version": "1.0", "contracts": [`)
	for i := range MaxContracts + 1 {
		if i > 0 {
			contracts.WriteString(",\n")
		}
		fmt.Fprintf(&contracts, `{"name": "t%d", "version": "1.0.0"}`, i)
	}
	contracts.WriteString("]}")

	for _, tc := range []struct {
		name string
		src  string
		rule string // "" for a manifest that loads
	}{
		{"too large", strings.Repeat(" ", MaxFileBytes+1), RuleLimit},
		{"flow nesting", header + "    return_type: {type: any, default: " + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + "}\n", RuleLimit},
		{"flow nesting of a huge file", strings.Repeat("[", MaxFileBytes), RuleLimit},
		{"block nesting", header + "    return_type:\n      type: any\n      default:\n" + deepBlock(MaxDepth), RuleLimit},
		{"block mapping keys", manyKeys(MaxMappingKeys+1, false), RuleLimit},
		{"block mapping keys at the limit", manyKeys(MaxMappingKeys, false), ""},
		{"flow mapping keys", manyKeys(3*MaxMappingKeys, true), ""},
		{"contracts", contracts.String(), RuleLimit},
		{"not UTF-8", header + "    description: \xff\n", RuleSyntax},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.src))
			if tc.rule == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			fields := fieldsOf(err)
			if len(fields) == 0 || fields[0].GetRule() != tc.rule {
				t.Fatalf("Parse = %v, want a %q problem", err, tc.rule)
			}
		})
	}
}

// deepBlock is a block sequence nested n deep, one level per line.
func deepBlock(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(strings.Repeat(" ", 8+2*i) + "-\n")
	}
	return b.String()
}

func TestFromProto(t *testing.T) {
	good := &altarv1.ToolManifest{
		ManifestVersion: "1.0",
		Contracts: []*altarv1.ToolContract{{
			Name:    "add",
			Version: "1.0.0",
			Parameters: &altarv1.ParameterSchema{
				Type: altarv1.AltarType_ALTAR_TYPE_OBJECT,
				Properties: map[string]*altarv1.ParameterSchema{
					"a": {Type: altarv1.AltarType_ALTAR_TYPE_INTEGER},
				},
			},
		}},
	}
	m, err := FromProto(good)
	if err != nil {
		t.Fatalf("FromProto: %v", err)
	}
	if m.Source != "" || m.Contracts[0].Params == nil || m.Proto == good {
		t.Errorf("FromProto = %+v; want a copy with compiled schemas", m)
	}
	if err := m.Contracts[0].Params.ValidateFields(map[string]*altarv1.Value{"a": schema.Int(1)}); err != nil {
		t.Errorf("compiled parameters reject a good call: %v", err)
	}

	bad := &altarv1.ToolManifest{
		ManifestVersion: "0.9",
		Contracts: []*altarv1.ToolContract{
			{
				Name:    "add tool",
				Version: "1",
				Parameters: &altarv1.ParameterSchema{
					Type: altarv1.AltarType_ALTAR_TYPE_OBJECT,
					Properties: map[string]*altarv1.ParameterSchema{
						"a": {Type: altarv1.AltarType_ALTAR_TYPE_INTEGER, Minimum: ptr(5.0), Maximum: ptr(1.0)},
						"b": {Type: altarv1.AltarType_ALTAR_TYPE_ARRAY, Items: &altarv1.ParameterSchema{Type: 42}},
					},
					Required: []string{"a", "c"},
				},
				ComplianceLevel: 9,
				TimeoutMs:       -1,
			},
			{Name: "ok", Version: "1.0.0", ReturnType: &altarv1.ParameterSchema{
				AnyOf: []*altarv1.ParameterSchema{{Type: altarv1.AltarType_ALTAR_TYPE_STRING}, {}},
			}},
			{Name: "ok", Version: "1.0.0"},
		},
	}
	_, err = FromProto(bad)
	var got []string
	for _, f := range fieldsOf(err) {
		if f.GetFile() != "" || f.GetLine() != 0 {
			t.Errorf("a proto problem has a position: %v", f)
		}
		got = append(got, f.GetPath()+" ("+f.GetRule()+")")
	}
	want := []string{
		"manifest_version (manifest_version)",
		"contracts[0].name (name)",
		"contracts[0].version (version)",
		"contracts[0].parameters.properties.a.minimum (range)",
		"contracts[0].parameters.properties.b.items.type (type)",
		"contracts[0].parameters.required[1] (required)",
		"contracts[0].compliance_level (range)",
		"contracts[0].timeout_ms (range)",
		"contracts[1].return_type.any_of[1].type (type)",
		"contracts[2] (duplicate)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("FromProto problems:\n got %q\nwant %q", got, want)
	}
	if _, err := FromProto(nil); altarerr.CodeOf(err) != altarv1.ErrorCode_ERROR_CODE_INVALID_MANIFEST {
		t.Errorf("FromProto(nil) = %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestManyProblems(t *testing.T) {
	data, err := os.ReadFile("testdata/bad/many.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse("many.yaml", data)
	var ae *altarerr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("Parse = %v", err)
	}
	rules := map[string]int{}
	for _, f := range ae.Fields {
		rules[f.GetRule()]++
	}
	// One document, every kind of problem, all of them reported.
	for _, rule := range []string{
		RuleKind, RuleUnknownKey, RuleName, RuleVersion, RuleDuplicate, RuleParameters, RuleRange,
		RuleScheme, RuleFlags, RuleCapability, RulePropertyName, RuleValue,
		"type", "pattern", "enum", "default", "required", "property_ordering",
	} {
		if rules[rule] == 0 {
			t.Errorf("no %q problem among %d: %v", rule, len(ae.Fields), rules)
		}
	}
	if len(ae.Fields) < 20 {
		t.Errorf("only %d problems reported", len(ae.Fields))
	}
	for i := 1; i < len(ae.Fields); i++ {
		a, b := ae.Fields[i-1], ae.Fields[i]
		if a.GetLine() > b.GetLine() || (a.GetLine() == b.GetLine() && a.GetColumn() > b.GetColumn()) {
			t.Errorf("problems out of order: %s before %s", altarerr.FormatField(a), altarerr.FormatField(b))
		}
	}
}
