package jsonschema_test

import (
	"encoding/base64"
	"math"
	"slices"
	"strings"

	"pgregory.net/rapid"

	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// drawInstance draws a JSON instance (plain Go) for ps: mostly one shaped
// like ps with values at and around its bounds, sometimes null or an
// arbitrary value, so that valid and invalid instances both occur.
func drawInstance(t *rapid.T, ps *altarv1.ParameterSchema, depth int) any {
	switch rapid.IntRange(0, 31).Draw(t, "mode") {
	case 30:
		return drawJSON(t, depth)
	case 31:
		return nil
	}
	if ps == nil {
		return drawJSON(t, depth)
	}
	if ps.GetNullable() && rapid.IntRange(0, 3).Draw(t, "null") == 3 {
		return nil
	}
	if len(ps.GetEnum()) > 0 && rapid.IntRange(0, 3).Draw(t, "from enum") < 3 {
		return schema.ToGo(rapid.SampledFrom(ps.GetEnum()).Draw(t, "member"))
	}
	switch ps.GetType() {
	case altarv1.AltarType_ALTAR_TYPE_STRING:
		if sample, ok := formatSamples[ps.GetFormat()]; ok && rapid.IntRange(0, 3).Draw(t, "format") < 3 {
			return sample
		}
		if ps.GetPattern() != "" && rapid.Bool().Draw(t, "matching") {
			return rapid.StringMatching(ps.GetPattern()).Draw(t, "string")
		}
		return strings.Repeat("a", lengthNear(t, ps.MinLength, ps.MaxLength))
	case altarv1.AltarType_ALTAR_TYPE_BYTES:
		return base64.StdEncoding.EncodeToString(make([]byte, lengthNear(t, ps.MinLength, ps.MaxLength)))
	case altarv1.AltarType_ALTAR_TYPE_INTEGER:
		return int64(numberNear(t, ps, 1))
	case altarv1.AltarType_ALTAR_TYPE_NUMBER:
		return numberNear(t, ps, 0.5)
	case altarv1.AltarType_ALTAR_TYPE_BOOLEAN:
		return rapid.Bool().Draw(t, "bool")
	case altarv1.AltarType_ALTAR_TYPE_NULL:
		return nil
	case altarv1.AltarType_ALTAR_TYPE_ARRAY:
		n := lengthNear(t, ps.MinItems, ps.MaxItems)
		if depth > 4 {
			n = 0
		}
		out := make([]any, n)
		for i := range out {
			out[i] = drawInstance(t, ps.GetItems(), depth+1)
		}
		return out
	case altarv1.AltarType_ALTAR_TYPE_OBJECT:
		out := map[string]any{}
		if depth > 4 {
			return out
		}
		for _, name := range sortedNames(ps.GetProperties()) {
			required := false
			for _, r := range ps.GetRequired() {
				required = required || r == name
			}
			if required && rapid.IntRange(0, 9).Draw(t, "drop required") < 9 || rapid.Bool().Draw(t, "optional") {
				out[name] = drawInstance(t, ps.GetProperties()[name], depth+1)
			}
		}
		if rapid.IntRange(0, 11).Draw(t, "extra") == 11 {
			out["extra_property"] = drawJSON(t, depth+1)
		}
		return out
	default:
		if len(ps.GetAnyOf()) > 0 {
			return drawInstance(t, rapid.SampledFrom(ps.GetAnyOf()).Draw(t, "alternative"), depth+1)
		}
		return drawJSON(t, depth)
	}
}

var formatSamples = map[string]string{
	"date":      "2025-01-31",
	"date-time": "2025-01-31T12:00:00Z",
	"email":     "someone@example.com",
	"uri":       "https://example.com/a",
	"uuid":      "0b9f3c52-8d1f-4a8e-9d55-0a5f4c1e2b3a",
}

// lengthNear draws a length mostly within the bounds (capped at 8),
// sometimes just outside.
func lengthNear(t *rapid.T, lo, hi *uint64) int {
	lower, upper := 0, 8
	if lo != nil && *lo <= 8 {
		lower = int(*lo)
	}
	if hi != nil && *hi <= 8 {
		upper = int(*hi)
	}
	if rapid.IntRange(0, 3).Draw(t, "outside") == 3 {
		return rapid.SampledFrom([]int{max(lower-1, 0), upper + 1}).Draw(t, "length")
	}
	if lower > upper {
		return lower
	}
	return rapid.IntRange(lower, upper).Draw(t, "length")
}

// numberNear draws a number at or next to one of ps's bounds (step apart),
// the one inside the bound first (rapid favours early candidates).
func numberNear(t *rapid.T, ps *altarv1.ParameterSchema, step float64) float64 {
	var inside, outside []float64
	near := func(b *float64, in, out float64) {
		if b != nil && math.Abs(*b) < 1e15 {
			base := math.Floor(*b)
			inside = append(inside, base+in)
			outside = append(outside, base+out)
		}
	}
	near(ps.Minimum, 0, -step)
	near(ps.ExclusiveMinimum, step, 0)
	near(ps.Maximum, 0, step)
	near(ps.ExclusiveMaximum, -step, 0)
	if m := ps.GetMultipleOf(); m > 0 && m < 1e6 {
		inside = append(inside, m*3)
		outside = append(outside, m*3.5)
	}
	if len(inside) == 0 || rapid.IntRange(0, 3).Draw(t, "outside") == 3 {
		return rapid.SampledFrom(append(outside, 7, 1, 0, -1, 42)).Draw(t, "number")
	}
	return rapid.SampledFrom(inside).Draw(t, "number")
}

// drawJSON draws an arbitrary small JSON value.
func drawJSON(t *rapid.T, depth int) any {
	max := 6
	if depth > 3 {
		max = 4
	}
	switch rapid.IntRange(0, max).Draw(t, "json kind") {
	case 0:
		return nil
	case 1:
		return rapid.Bool().Draw(t, "bool")
	case 2:
		return rapid.Int64Range(-5, 5).Draw(t, "int")
	case 3:
		return rapid.Float64Range(-5, 5).Draw(t, "float")
	case 4:
		return rapid.StringN(0, 4, 16).Draw(t, "string")
	case 5:
		n := rapid.IntRange(0, 2).Draw(t, "len")
		out := make([]any, n)
		for i := range out {
			out[i] = drawJSON(t, depth+1)
		}
		return out
	default:
		out := map[string]any{}
		for range rapid.IntRange(0, 2).Draw(t, "len") {
			out[rapid.SampledFrom([]string{"a", "b", "name"}).Draw(t, "key")] = drawJSON(t, depth+1)
		}
		return out
	}
}

func sortedNames(m map[string]*altarv1.ParameterSchema) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
