package contract

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// header is the first lines of most test manifests: a valid manifest whose
// one contract starts at line 3 (its name) and whose fields follow from
// line 5 on.
const header = `manifest_version: "1.0"
contracts:
  - name: t
    version: 1.0.0
`

// brief renders field errors as "line:col path (rule)", the parts the
// tests pin down exactly.
func brief(fields []*altarv1.FieldError) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = fmt.Sprintf("%d:%d %s (%s)", f.GetLine(), f.GetColumn(), f.GetPath(), f.GetRule())
	}
	return out
}

// parseFields parses src as "t.yaml" and returns its field errors, checking
// the error's shape on the way.
func parseFields(t *testing.T, src string) []*altarv1.FieldError {
	t.Helper()
	m, err := Parse("t.yaml", []byte(src))
	if err == nil {
		if m == nil {
			t.Fatal("Parse returned neither a manifest nor an error")
		}
		return nil
	}
	if m != nil {
		t.Errorf("Parse returned a manifest and an error")
	}
	var ae *altarerr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %T is not an *altarerr.Error: %v", err, err)
	}
	if ae.Code != altarv1.ErrorCode_ERROR_CODE_INVALID_MANIFEST {
		t.Errorf("code = %v, want INVALID_MANIFEST", ae.Code)
	}
	if len(ae.Fields) == 0 {
		t.Fatalf("error has no field errors: %v", err)
	}
	for _, f := range ae.Fields {
		if f.GetFile() != "t.yaml" || f.GetMessage() == "" || f.GetRule() == "" {
			t.Errorf("field error lacks file, message or rule: %v", f)
		}
	}
	return ae.Fields
}

func TestParseErrors(t *testing.T) {
	deep := header + "    parameters:\n      type: object\n      properties:\n        x: " +
		strings.Repeat("{type: array, items: ", 70) + "{type: string}" + strings.Repeat("}", 70) + "\n"
	for _, tc := range []struct {
		name string
		src  string
		want []string // brief() of every field error, in order
		msg  string   // a part of the first error's message
	}{
		{
			name: "syntax",
			src:  "manifest_version: \"1.0\"\ncontracts:\n  - name: t\n   version: 1.0.0\n",
			want: []string{"4:4  (syntax)"},
		},
		{
			name: "duplicate key",
			src:  header + "    name: u\n",
			want: []string{"5:5  (syntax)"},
			msg:  `"name" already defined`,
		},
		{
			name: "unknown top-level key",
			src:  header + "contract_version: 2\n",
			want: []string{"5:1 contract_version (unknown_key)"},
		},
		{
			name: "unknown contract key with a suggestion",
			src:  header + "    descripton: adds\n",
			want: []string{"5:5 contracts[0].descripton (unknown_key)"},
			msg:  `did you mean "description"?`,
		},
		{
			name: "unknown schema key",
			src:  header + "    parameters:\n      type: object\n      properties:\n        a: {type: integer, minimun: 1}\n",
			want: []string{"8:28 contracts[0].parameters.properties.a.minimun (unknown_key)"},
			msg:  `did you mean "minimum"?`,
		},
		{
			name: "unknown flag",
			src:  header + "    flags: {readonly: true}\n",
			want: []string{"5:13 contracts[0].flags.readonly (unknown_key)"},
			msg:  `did you mean "read_only"?`,
		},
		{
			name: "string where a mapping belongs",
			src:  header + "    parameters: none\n",
			want: []string{"5:17 contracts[0].parameters (kind)"},
			msg:  "expected a schema (a mapping with a type), got a string",
		},
		{
			name: "number where a string belongs",
			src:  header + "    description: 42\n",
			want: []string{"5:18 contracts[0].description (kind)"},
			msg:  `quote it: "42"`,
		},
		{
			name: "mapping where a sequence belongs",
			src:  header + "    required_capabilities: {streaming: true}\n",
			want: []string{"5:28 contracts[0].required_capabilities (kind)"},
		},
		{
			name: "top level is not a mapping",
			src:  "- a\n- b\n",
			want: []string{"1:1  (kind)"},
		},
		{
			name: "missing manifest_version",
			src:  "contracts:\n  - name: t\n    version: 1.0.0\n",
			want: []string{"1:1 manifest_version (required)"},
		},
		{
			name: "unquoted manifest_version",
			src:  "manifest_version: 1.0\ncontracts:\n  - name: t\n    version: 1.0.0\n",
			want: []string{"1:19 manifest_version (kind)"},
			msg:  `quote it: "1.0"`,
		},
		{
			name: "unsupported manifest_version",
			src:  "manifest_version: \"2.0\"\ncontracts:\n  - name: t\n    version: 1.0.0\n",
			want: []string{"1:19 manifest_version (manifest_version)"},
		},
		{
			name: "no contracts",
			src:  "manifest_version: \"1.0\"\ncontracts: []\n",
			want: []string{"2:1 contracts (required)"},
		},
		{
			name: "bad name",
			src:  "manifest_version: \"1.0\"\ncontracts:\n  - name: 9lives\n    version: 1.0.0\n",
			want: []string{"3:11 contracts[0].name (name)"},
			msg:  "must start with a letter",
		},
		{
			name: "missing name",
			src:  "manifest_version: \"1.0\"\ncontracts:\n  - version: 1.0.0\n",
			want: []string{"3:5 contracts[0].name (required)"},
		},
		{
			name: "bad version",
			src:  "manifest_version: \"1.0\"\ncontracts:\n  - name: t\n    version: v1.0.0\n",
			want: []string{"4:14 contracts[0].version (version)"},
			msg:  `write "1.0.0"`,
		},
		{
			name: "missing version",
			src:  "manifest_version: \"1.0\"\ncontracts:\n  - name: t\n",
			want: []string{"3:5 contracts[0].version (required)"},
		},
		{
			name: "duplicate contract",
			src:  header + "  - name: u\n    version: 1.0.0\n  - name: t\n    version: 1.0.0\n  - name: t\n    version: 2.0.0\n",
			want: []string{"7:5 contracts[2] (duplicate)"},
			msg:  "the first is at t.yaml:3:5",
		},
		{
			name: "parameters not an object",
			src:  header + "    parameters: {type: array, items: {type: string}}\n",
			want: []string{"5:24 contracts[0].parameters.type (parameters)"},
		},
		{
			name: "unknown type",
			src:  header + "    return_type: {type: strng}\n",
			want: []string{"5:25 contracts[0].return_type.type (type)"},
			msg:  `did you mean "string"?`,
		},
		{
			name: "missing type",
			src:  header + "    return_type: {description: a number}\n",
			want: []string{"5:5 contracts[0].return_type.type (type)"},
		},
		{
			name: "minimum above maximum",
			src:  header + "    parameters:\n      type: object\n      properties:\n        age: {type: integer, minimum: 10, maximum: 1}\n",
			want: []string{"8:39 contracts[0].parameters.properties.age.minimum (range)"},
		},
		{
			name: "min_length above max_length",
			src:  header + "    return_type: {type: string, min_length: 5, max_length: 2}\n",
			want: []string{"5:45 contracts[0].return_type.min_length (range)"},
		},
		{
			name: "negative min_items",
			src:  header + "    return_type: {type: array, min_items: -1}\n",
			want: []string{"5:43 contracts[0].return_type.min_items (range)"},
		},
		{
			name: "pattern that does not compile",
			src:  header + "    return_type:\n      type: array\n      items: {type: string, pattern: \"a(b\"}\n",
			want: []string{"7:38 contracts[0].return_type.items.pattern (pattern)"},
		},
		{
			name: "enum member of the wrong type",
			src:  header + "    return_type: {type: string, enum: [a, 2, b]}\n",
			want: []string{"5:43 contracts[0].return_type.enum[1] (enum)"},
		},
		{
			name: "default that fails its schema",
			src:  header + "    parameters:\n      type: object\n      properties:\n        n: {type: integer, maximum: 10, default: 11}\n",
			want: []string{"8:50 contracts[0].parameters.properties.n.default (default)"},
		},
		{
			name: "default inside an object default",
			src: header + "    return_type:\n      type: object\n      properties:\n        a: {type: integer}\n" +
				"      default:\n        a: x\n",
			want: []string{"10:12 contracts[0].return_type.default.a (default)"},
		},
		{
			name: "required names an unknown property",
			src:  header + "    parameters:\n      type: object\n      properties:\n        a: {type: string}\n      required: [a, b]\n",
			want: []string{"9:21 contracts[0].parameters.required[1] (required)"},
		},
		{
			name: "property_ordering names an unknown property",
			src:  header + "    parameters:\n      type: object\n      properties:\n        a: {type: string}\n      property_ordering: [b, a]\n",
			want: []string{"9:27 contracts[0].parameters.property_ordering[0] (property_ordering)"},
		},
		{
			name: "any_of member without a type",
			src:  header + "    return_type:\n      any_of:\n        - {type: string}\n        - {title: x}\n",
			want: []string{"8:11 contracts[0].return_type.any_of[1].type (type)"},
		},
		{
			name: "schema nested too deep",
			src:  deep,
			want: []string{"8:1328 contracts[0].parameters.properties.x" + strings.Repeat(".items", 63) + " (depth)"},
		},
		{
			name: "bad property name",
			src:  header + "    parameters:\n      type: object\n      properties:\n        \"first name\": {type: string}\n",
			want: []string{"8:9 contracts[0].parameters.properties[\"first name\"] (property_name)"},
		},
		{
			name: "negative timeout_ms",
			src:  header + "    timeout_ms: -1\n",
			want: []string{"5:17 contracts[0].timeout_ms (range)"},
		},
		{
			name: "negative cache_ttl_ms",
			src:  header + "    cache_ttl_ms: -1\n",
			want: []string{"5:19 contracts[0].cache_ttl_ms (range)"},
		},
		{
			name: "cache_ttl_ms without cacheable",
			src:  header + "    cache_ttl_ms: 1000\n    flags: {idempotent: true}\n",
			want: []string{"5:19 contracts[0].cache_ttl_ms (flags)"},
		},
		{
			name: "compliance_level out of range",
			src:  header + "    compliance_level: 4\n",
			want: []string{"5:23 contracts[0].compliance_level (range)"},
		},
		{
			name: "streaming at level 1",
			src:  header + "    supports_streaming: true\n    compliance_level: 1\n",
			want: []string{"5:25 contracts[0].supports_streaming (compliance_level)"},
		},
		{
			name: "empty security scheme",
			src:  header + "    security_requirements:\n      - scheme: \"\"\n        scopes: [admin, \" \"]\n",
			want: []string{"6:17 contracts[0].security_requirements[0].scheme (scheme)", "7:25 contracts[0].security_requirements[0].scopes[1] (scheme)"},
		},
		{
			name: "read_only and destructive",
			src:  header + "    flags: {read_only: true, destructive: true, deprecation_message: old}\n",
			want: []string{"5:43 contracts[0].flags.destructive (flags)", "5:70 contracts[0].flags.deprecation_message (flags)"},
		},
		{
			name: "unknown capability",
			src:  header + "    required_capabilities: [streaming, teleport, streaming]\n",
			want: []string{"5:40 contracts[0].required_capabilities[1] (capability)", "5:50 contracts[0].required_capabilities[2] (capability)"},
		},
		{
			name: "integer beyond int64",
			src:  header + "    return_type: {type: integer, enum: [9223372036854775808]}\n",
			want: []string{"5:41 contracts[0].return_type.enum[0] (value)"},
		},
		{
			name: "YAML 1.1 octal",
			src:  header + "    timeout_ms: 010\n",
			want: []string{"5:17 contracts[0].timeout_ms (value)"},
			msg:  "ambiguous",
		},
		{
			name: "infinity",
			src:  header + "    return_type: {type: number, maximum: .inf}\n",
			want: []string{"5:42 contracts[0].return_type.maximum (value)"},
		},
		{
			name: "bytes default that is not base64",
			src:  header + "    return_type: {type: bytes, default: \"not base64!\"}\n",
			want: []string{"5:41 contracts[0].return_type.default (value)"},
		},
		{
			name: "non-string key in a value",
			src:  header + "    return_type: {type: any, default: {1: one}}\n",
			want: []string{"5:40 contracts[0].return_type.default (kind)"},
		},
		{
			name: "unsupported tag",
			src:  header + "    description: !secret hunter2\n",
			want: []string{"5:25 contracts[0].description (value)"},
		},
		{
			name: "alias to an unknown anchor",
			src:  header + "    description: *nothing\n",
			want: []string{"5:18 contracts[0].description (alias)"},
		},
		{
			name: "two documents",
			src:  header + "---\n" + header,
			want: []string{"5:0  (syntax)"},
		},
		{
			name: "empty file",
			src:  "# nothing here\n",
			want: []string{"0:0  (required)"},
		},
		{
			name: "enum with a member that cannot be read",
			src:  header + "    return_type: {type: string, enum: [a, .inf, 3]}\n",
			want: []string{"5:43 contracts[0].return_type.enum[1] (value)"},
		},
		{
			name: "required with a member that is not a string",
			src:  header + "    parameters:\n      type: object\n      properties: {a: {type: string}}\n      required: [a, [b], zz]\n",
			want: []string{"8:21 contracts[0].parameters.required[1] (kind)"},
		},
		{
			name: "contract that is not a mapping",
			src:  "manifest_version: \"1.0\"\ncontracts: [hello]\n",
			want: []string{"2:13 contracts[0] (kind)"},
		},
		{
			name: "metadata value not a string",
			src:  header + "    metadata: {retries: 3}\n",
			want: []string{"5:25 contracts[0].metadata.retries (kind)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fields := parseFields(t, tc.src)
			if got := brief(fields); !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n got %q\nwant %q\nfull:\n%s", got, tc.want, formatAll(fields))
			}
			if tc.msg != "" && len(fields) > 0 && !strings.Contains(fields[0].GetMessage(), tc.msg) {
				t.Errorf("message %q does not contain %q", fields[0].GetMessage(), tc.msg)
			}
		})
	}
}

func formatAll(fields []*altarv1.FieldError) string {
	var b strings.Builder
	for _, f := range fields {
		b.WriteString("  " + altarerr.FormatField(f) + "\n")
	}
	return b.String()
}
