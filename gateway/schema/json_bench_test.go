package schema_test

import (
	"encoding/json"
	"testing"

	"github.com/altar-gateway/altar/gateway/schema"
)

// jsonBenchArgs is a typical tool call's arguments: ten properties of every
// common kind, one small nested object and one short array.
var jsonBenchArgs = []byte(`{
  "query": "restaurants near the Gare de Lyon, Paris",
  "limit": 25,
  "offset": 0,
  "min_rating": 4.5,
  "open_now": true,
  "price_levels": [1, 2, 3],
  "cuisine": "bistro \u00e9l\u00e9gant",
  "location": {"lat": 48.8443, "lng": 2.3744, "radius_m": 1500},
  "session_id": "7f9c2ba4-e88f-11ee-8c90-0242ac120002",
  "cursor": null
}`)

func BenchmarkParseJSON(b *testing.B) {
	b.Run("altar", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(jsonBenchArgs)))
		for b.Loop() {
			if _, err := schema.ParseJSON(jsonBenchArgs, schema.Limits{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("altar-object", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(jsonBenchArgs)))
		for b.Loop() {
			if _, err := schema.ParseJSONObject(jsonBenchArgs, schema.Limits{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json-any", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(jsonBenchArgs)))
		for b.Loop() {
			var x any
			if err := json.Unmarshal(jsonBenchArgs, &x); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkMarshalJSON(b *testing.B) {
	v, err := schema.ParseJSON(jsonBenchArgs, schema.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	var x any
	if err := json.Unmarshal(jsonBenchArgs, &x); err != nil {
		b.Fatal(err)
	}
	b.Run("altar", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			if buf, err = schema.AppendJSON(buf[:0], v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json-any", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(x); err != nil {
				b.Fatal(err)
			}
		}
	})
}
