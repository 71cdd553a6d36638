package jsonschema_test

import (
	"bytes"
	"testing"

	sjs "github.com/santhosh-tekuri/jsonschema/v6"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	"github.com/altar-gateway/altar/gateway/schema/jsonschema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

var drafts = []struct {
	draft jsonschema.Draft
	sjs   *sjs.Draft
}{
	{jsonschema.Draft2020_12, sjs.Draft2020},
	{jsonschema.Draft07, sjs.Draft7},
}

// compileJSONSchema compiles doc with santhosh-tekuri/jsonschema, which
// first validates it against its dialect's meta-schema. Formats are asserted
// in every dialect, so that two documents compare alike.
func compileJSONSchema(doc []byte, d *sjs.Draft) (*sjs.Schema, error) {
	v, err := sjs.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, err
	}
	c := sjs.NewCompiler()
	c.DefaultDraft(d)
	c.AssertFormat()
	if err := c.AddResource("mem:///schema.json", v); err != nil {
		return nil, err
	}
	return c.Compile("mem:///schema.json")
}

func text(ps *altarv1.ParameterSchema) string {
	return prototext.MarshalOptions{Multiline: true}.Format(ps)
}

// TestRoundTrip checks Import(Export(ps)) == ps for generated schemas, in
// both dialects and through both the JSON and the map form, and that every
// export is a valid JSON Schema.
func TestRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ps := genSchema().Draw(t, "schema")
		for _, d := range drafts {
			doc, err := jsonschema.ExportJSON(ps, jsonschema.WithDraft(d.draft), jsonschema.WithSchemaURI())
			if err != nil {
				t.Fatalf("ExportJSON(%s): %v\n%s", d.draft, err, text(ps))
			}
			got, warns, err := jsonschema.Import(doc)
			if err != nil {
				t.Fatalf("Import(%s): %v\n%s", d.draft, err, doc)
			}
			if !proto.Equal(got, ps) {
				t.Fatalf("Import(Export(ps)) differs in %s\nwant:\n%s\ngot:\n%s\ndoc: %s", d.draft, text(ps), text(got), doc)
			}
			if len(warns) > 0 {
				t.Fatalf("Import of an export warned: %v\ndoc: %s", warns, doc)
			}
			if _, err := compileJSONSchema(doc, d.sjs); err != nil {
				t.Fatalf("export is not a valid %s JSON Schema: %v\ndoc: %s", d.draft, err, doc)
			}
		}
		m, err := jsonschema.Export(ps)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := jsonschema.ImportMap(m)
		if err != nil {
			t.Fatalf("ImportMap(Export(ps)): %v", err)
		}
		if !proto.Equal(got, ps) {
			t.Fatalf("ImportMap(Export(ps)) differs\nwant:\n%s\ngot:\n%s", text(ps), text(got))
		}
	})
}

// TestExportDeterministic checks that ExportJSON writes the same bytes each
// time (map iteration order must not leak).
func TestExportDeterministic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ps := genSchema().Draw(t, "schema")
		a, err := jsonschema.ExportJSON(ps)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			b, err := jsonschema.ExportJSON(ps)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Fatalf("ExportJSON is not deterministic:\n%s\n%s", a, b)
			}
		}
	})
}
