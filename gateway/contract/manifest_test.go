package contract

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/google/go-cmp/cmp"

	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

const examples = "../../manifests"

func mustParse(t *testing.T, src string) *Manifest {
	t.Helper()
	m, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, formatAll(fieldsOf(err)))
	}
	return m
}

func TestExampleManifests(t *testing.T) {
	ms, err := LoadPaths(examples)
	if err != nil {
		t.Fatalf("LoadPaths(%s): %v\n%s", examples, err, formatAll(fieldsOf(err)))
	}
	var got []string
	for _, m := range ms {
		got = append(got, filepath.Base(m.Source))
		for _, c := range m.Contracts {
			if c.Params == nil || c.Result == nil {
				t.Errorf("%s: %s has no compiled schemas", m.Source, c.Name())
			}
			if c.Pos.File != m.Source || c.Pos.Line == 0 {
				t.Errorf("%s: %s has no position: %v", m.Source, c.Name(), c.Pos)
			}
		}
	}
	if want := []string{"calculator.yaml", "files.yaml", "weather.json"}; !slices.Equal(got, want) {
		t.Errorf("loaded %v, want %v (manifest.schema.json is not a manifest)", got, want)
	}
}

func TestCalculator(t *testing.T) {
	m, err := LoadFile(filepath.Join(examples, "calculator.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range m.Contracts {
		names = append(names, c.Name())
	}
	if want := []string{"add", "subtract", "multiply", "divide", "count"}; !slices.Equal(names, want) {
		t.Fatalf("contracts %v, want %v", names, want)
	}
	add := m.Contracts[0]
	if !add.Proto.GetFlags().GetReadOnly() || !add.Proto.GetFlags().GetIdempotent() {
		t.Errorf("add flags = %v", add.Proto.GetFlags())
	}
	if add.Pos.Line != 12 || add.Pos.Column != 5 {
		t.Errorf("add starts at %v, want line 12 column 5", add.Pos)
	}
	if got := add.Proto.GetParameters().GetPropertyOrdering(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("property_ordering = %v, want the YAML order", got)
	}
	if err := add.Params.ValidateFields(map[string]*altarv1.Value{"a": schema.Int(1), "b": schema.Double(2.5)}); err != nil {
		t.Errorf("add rejects good arguments: %v", err)
	}
	if err := add.Params.ValidateFields(map[string]*altarv1.Value{"a": schema.String("1")}); err == nil {
		t.Error("add accepts bad arguments")
	}
	count := m.Contracts[4]
	if !count.Proto.GetSupportsStreaming() || count.Proto.GetComplianceLevel() != altarv1.ComplianceLevel_COMPLIANCE_LEVEL_2 {
		t.Errorf("count: streaming %v, level %v", count.Proto.GetSupportsStreaming(), count.Proto.GetComplianceLevel())
	}
	delay := count.Proto.GetParameters().GetProperties()["delay_ms"]
	if !proto.Equal(delay.GetDefault(), schema.Int(100)) || delay.GetMaximum() != 10000 {
		t.Errorf("count.delay_ms = %v", delay)
	}
	rounding := m.Contracts[2].Proto.GetParameters().GetProperties()["rounding"]
	mode := rounding.GetProperties()["mode"]
	if len(mode.GetEnum()) != 4 || !proto.Equal(mode.GetDefault(), schema.String("half_even")) {
		t.Errorf("multiply.rounding.mode = %v", mode)
	}
}

func TestMergeKeys(t *testing.T) {
	m, err := LoadFile(filepath.Join(examples, "files.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	read := m.Contracts[0].Proto.GetParameters().GetProperties()["path"]
	list := m.Contracts[1].Proto.GetParameters().GetProperties()["path"]
	write := m.Contracts[2].Proto.GetParameters().GetProperties()["path"]
	if !proto.Equal(read, write) {
		t.Errorf("write_file.path (merged) = %v, want read_file.path (its anchor) %v", write, read)
	}
	if list.GetDescription() == read.GetDescription() || !strings.Contains(list.GetDescription(), "folder") {
		t.Errorf("list_directory.path description = %q: a key written beside << must win", list.GetDescription())
	}
	if list.GetMaxLength() != 1024 || list.GetPattern() != read.GetPattern() {
		t.Errorf("list_directory.path did not merge the anchor's other keys: %v", list)
	}
}

func TestJSONAndYAMLAgree(t *testing.T) {
	y, err := LoadFile("testdata/all_keys.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, formatAll(fieldsOf(err)))
	}
	j, err := LoadFile("testdata/all_keys.json")
	if err != nil {
		t.Fatalf("%v\n%s", err, formatAll(fieldsOf(err)))
	}
	if !proto.Equal(y.Proto, j.Proto) {
		t.Errorf("YAML and JSON forms differ (-yaml +json):\n%s", cmp.Diff(y.Proto, j.Proto, protocmp.Transform()))
	}
	// Every key was read: nothing in the proto is left at its zero value
	// where the file set it.
	c := y.Proto.GetContracts()[0]
	if c.GetFlags().GetCacheable() != true || c.GetCacheTtlMs() != 60000 || len(c.GetRequiredCapabilities()) != 2 ||
		c.GetComplianceLevel() != altarv1.ComplianceLevel_COMPLIANCE_LEVEL_3 || len(c.GetSecurityRequirements()) != 2 {
		t.Errorf("contract fields not read: %v", c)
	}
	opts := c.GetParameters().GetProperties()["options"]
	if !slices.Equal(opts.GetPropertyOrdering(), []string{"level", "deep"}) || !opts.GetAdditionalProperties() {
		t.Errorf("options = %v: explicit property_ordering must win over the YAML order", opts)
	}
	blob := c.GetParameters().GetProperties()["blob"]
	if !proto.Equal(blob.GetDefault(), schema.Bytes([]byte("hello"))) {
		t.Errorf("blob default = %v, want the bytes of its base64", blob.GetDefault())
	}
	// A manifest that loads from a file loads as a proto too, identically.
	p, err := FromProto(y.Proto)
	if err != nil {
		t.Fatalf("FromProto of a loaded manifest: %v\n%s", err, formatAll(fieldsOf(err)))
	}
	if !proto.Equal(p.Proto, y.Proto) || len(p.Contracts) != 2 || p.Contracts[0].Pos.Line != 0 {
		t.Error("FromProto changed the manifest")
	}
}

func TestExactValues(t *testing.T) {
	m := mustParse(t, header+`    return_type:
      type: any
      default: ~
      enum:
        - 9223372036854775807
        - -9223372036854775808
        - 0x7f
        - 0o17
        - -0
        - 3.0
        - 1e3
        - 2.5E-3
        - -1.0
        - !!float 1
        - !!str 12
        - !!binary aGk=
        - null
        - true
        - "1.0"
        - '7'
        - 2001-12-14
        - yes
        - [1, 1.0]
        - {a: 1, b: [null]}
        - |
          line
`)
	want := []*altarv1.Value{
		schema.Int(math.MaxInt64),
		schema.Int(math.MinInt64),
		schema.Int(127),
		schema.Int(15),
		schema.Int(0),
		schema.Double(3),
		schema.Double(1000),
		schema.Double(0.0025),
		schema.Double(-1),
		schema.Double(1),
		schema.String("12"),
		schema.Bytes([]byte("hi")),
		schema.Null(),
		schema.Bool(true),
		schema.String("1.0"),
		schema.String("7"),
		schema.String("2001-12-14"),
		schema.String("yes"),
		schema.Array(schema.Int(1), schema.Double(1)),
		schema.Object(map[string]*altarv1.Value{"a": schema.Int(1), "b": schema.Array(schema.Null())}),
		schema.String("line\n"),
	}
	if d := m.Contracts[0].Proto.GetReturnType().GetDefault(); !proto.Equal(d, schema.Null()) {
		t.Errorf("default ~ = %v, want an explicit null", d)
	}
	got := m.Contracts[0].Proto.GetReturnType().GetEnum()
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("enum values (-want +got):\n%s", diff)
	}
}

func TestLineEndingsAndBOM(t *testing.T) {
	src := "\xef\xbb\xbf" + strings.ReplaceAll(header+"    timeout_ms: -1\n", "\n", "\r\n")
	if got, want := brief(parseFields(t, src)), []string{"5:17 contracts[0].timeout_ms (range)"}; !slices.Equal(got, want) {
		t.Errorf("CRLF with a BOM: got %q, want %q", got, want)
	}
}

func TestAliases(t *testing.T) {
	m := mustParse(t, `manifest_version: "1.0"
x-defaults: &defaults
  version: 1.0.0
  flags: {read_only: true}
x-string: &str {type: string, max_length: 5}
contracts:
  - <<: *defaults
    name: a
    parameters:
      type: object
      properties: {s: *str, t: *str}
  - <<: [{timeout_ms: 5}, *defaults, {timeout_ms: 6}]
    name: b
    flags: {idempotent: true}
    description: &d described
    metadata: {note: *d}
`)
	a, b := m.Contracts[0].Proto, m.Contracts[1].Proto
	if a.GetVersion() != "1.0.0" || !a.GetFlags().GetReadOnly() {
		t.Errorf("a did not merge the defaults: %v", a)
	}
	props := a.GetParameters().GetProperties()
	if props["s"].GetMaxLength() != 5 || !proto.Equal(props["s"], props["t"]) {
		t.Errorf("aliased schemas differ: %v", props)
	}
	if b.GetTimeoutMs() != 5 {
		t.Errorf("b.timeout_ms = %d, want 5 (the first merged mapping wins)", b.GetTimeoutMs())
	}
	if b.GetFlags().GetReadOnly() || !b.GetFlags().GetIdempotent() {
		t.Errorf("b.flags = %v: keys written in the mapping replace merged ones whole", b.GetFlags())
	}
	if b.GetMetadata()["note"] != "described" {
		t.Errorf("b.metadata = %v", b.GetMetadata())
	}
}

func TestAliasesRefused(t *testing.T) {
	laughs := "manifest_version: \"1.0\"\nx-a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
	prev := "a"
	for _, name := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		laughs += "x-" + name + ": &" + name + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = name
	}
	laughs += "contracts:\n  - name: t\n    version: 1.0.0\n    return_type: {type: any, default: *i}\n"
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"billion laughs", laughs, []string{"6:38 x-e[7] (limit)"}},
		{"alias inside its own anchor", header + "    return_type: &r {type: any, default: *r}\n", []string{"5:42 contracts[0].return_type.default (alias)"}},
		{"merge of a scalar", header + "    <<: 5\n", []string{`5:9 contracts[0]["<<"] (alias)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := brief(parseFields(t, tc.src)); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
