package jsonschema_test

import (
	"slices"

	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// The generators here build ParameterSchemas in the subset whose round trip
// through JSON Schema is exact (see the package documentation, "Round
// trips"): every field that applies to the type, nested to depth 4, enum
// members and defaults of the schema's own type.

const maxGenDepth = 4

var (
	tString  = altarv1.AltarType_ALTAR_TYPE_STRING
	tInteger = altarv1.AltarType_ALTAR_TYPE_INTEGER
	tNumber  = altarv1.AltarType_ALTAR_TYPE_NUMBER
	tBoolean = altarv1.AltarType_ALTAR_TYPE_BOOLEAN
	tBytes   = altarv1.AltarType_ALTAR_TYPE_BYTES
	tArray   = altarv1.AltarType_ALTAR_TYPE_ARRAY
	tObject  = altarv1.AltarType_ALTAR_TYPE_OBJECT
	tNull    = altarv1.AltarType_ALTAR_TYPE_NULL
	tAny     = altarv1.AltarType_ALTAR_TYPE_ANY
)

var allTypes = []altarv1.AltarType{tString, tInteger, tNumber, tBoolean, tBytes, tArray, tObject, tNull, tAny}

var patterns = []string{`^[a-z]+$`, `\d{3}-\d{4}`, `^(foo|bar)?$`, `[[:alpha:]]`, `^\p{L}+$`, `a.b`, `^$`}

var formats = []string{"date-time", "date", "email", "uri", "uuid", "ipv4", "ipv6", "hostname", "int64", "x-custom"}

func genSchema() *rapid.Generator[*altarv1.ParameterSchema] {
	return rapid.Custom(func(t *rapid.T) *altarv1.ParameterSchema { return drawSchema(t, 1, "s") })
}

func optional[V any](t *rapid.T, g *rapid.Generator[V], label string) *V {
	if !rapid.Bool().Draw(t, label+"?") {
		return nil
	}
	v := g.Draw(t, label)
	return &v
}

func genText() *rapid.Generator[string] { return rapid.StringN(0, 12, 64) }

func genName() *rapid.Generator[string] {
	return rapid.OneOf(rapid.StringMatching(`[a-z_][a-zA-Z0-9_]{0,8}`), rapid.StringN(1, 6, 32))
}

func drawSchema(t *rapid.T, depth int, label string) *altarv1.ParameterSchema {
	typ := rapid.SampledFrom(allTypes).Draw(t, label+".type")
	ps := &altarv1.ParameterSchema{Type: typ}
	if rapid.Bool().Draw(t, label+".title?") {
		ps.Title = genText().Draw(t, label+".title")
	}
	if rapid.Bool().Draw(t, label+".description?") {
		ps.Description = genText().Draw(t, label+".description")
	}
	isAny := typ == tAny
	numeric := typ == tInteger || typ == tNumber || isAny
	if numeric {
		bound := rapid.Float64()
		if typ == tInteger {
			bound = rapid.OneOf(rapid.Float64(), rapid.Map(rapid.Int64Range(-1<<53, 1<<53), func(i int64) float64 { return float64(i) }))
		}
		ps.Minimum = optional(t, bound, label+".minimum")
		ps.Maximum = optional(t, bound, label+".maximum")
		ps.ExclusiveMinimum = optional(t, bound, label+".exclusive_minimum")
		ps.ExclusiveMaximum = optional(t, bound, label+".exclusive_maximum")
		ps.MultipleOf = optional(t, rapid.Float64Range(1e-9, 1e9), label+".multiple_of")
	}
	if typ == tString || typ == tBytes || isAny {
		ps.MinLength = optional(t, rapid.Uint64(), label+".min_length")
		ps.MaxLength = optional(t, rapid.Uint64(), label+".max_length")
	}
	if (typ == tString || isAny) && rapid.Bool().Draw(t, label+".pattern?") {
		ps.Pattern = rapid.SampledFrom(patterns).Draw(t, label+".pattern")
	}
	if rapid.IntRange(0, 3).Draw(t, label+".format?") == 0 {
		ps.Format = rapid.SampledFrom(formats).Draw(t, label+".format")
	}
	if typ == tArray || isAny {
		if depth < maxGenDepth && rapid.Bool().Draw(t, label+".items?") {
			ps.Items = drawSchema(t, depth+1, label+".items")
		}
		ps.MinItems = optional(t, rapid.Uint64Range(0, 1<<40), label+".min_items")
		ps.MaxItems = optional(t, rapid.Uint64(), label+".max_items")
		ps.UniqueItems = rapid.Bool().Draw(t, label+".unique_items")
	}
	if typ == tObject || isAny {
		drawObject(t, ps, depth, label)
	}
	if depth < maxGenDepth && rapid.IntRange(0, 3).Draw(t, label+".any_of?") == 0 {
		n := rapid.IntRange(1, 3).Draw(t, label+".any_of.n")
		for range n {
			alt := drawSchema(t, depth+1, label+".any_of")
			if proto.Equal(alt, &altarv1.ParameterSchema{Type: tNull}) {
				alt.Description = "null" // a bare null alternative folds into nullable
			}
			ps.AnyOf = append(ps.AnyOf, alt)
		}
	}
	switch {
	case typ == tNull:
	case isAny:
		ps.Nullable = len(ps.AnyOf) > 0 && rapid.Bool().Draw(t, label+".nullable")
	default:
		ps.Nullable = rapid.Bool().Draw(t, label+".nullable")
	}
	if typ != tArray && typ != tObject && rapid.IntRange(0, 2).Draw(t, label+".enum?") == 0 {
		n := rapid.IntRange(1, 4).Draw(t, label+".enum.n")
		for range n {
			v := drawScalar(t, typ, label+".enum")
			if ps.Nullable && schema.Kind(v) == "null" {
				continue
			}
			if !slices.ContainsFunc(ps.Enum, func(e *altarv1.Value) bool { return sameJSON(e, v) }) {
				ps.Enum = append(ps.Enum, v)
			}
		}
	}
	if rapid.IntRange(0, 2).Draw(t, label+".default?") == 0 {
		if ps.Nullable && rapid.Bool().Draw(t, label+".default.null") {
			ps.Default = schema.Null()
		} else {
			ps.Default = drawValue(t, ps, 1, label+".default")
		}
	}
	ps.Sensitive = rapid.IntRange(0, 4).Draw(t, label+".sensitive") == 0
	return ps
}

func drawObject(t *rapid.T, ps *altarv1.ParameterSchema, depth int, label string) {
	if depth < maxGenDepth {
		n := rapid.IntRange(0, 3).Draw(t, label+".properties.n")
		for range n {
			name := genName().Draw(t, label+".properties.name")
			if ps.Properties == nil {
				ps.Properties = map[string]*altarv1.ParameterSchema{}
			}
			ps.Properties[name] = drawSchema(t, depth+1, label+".properties."+name)
		}
	}
	names := make([]string, 0, len(ps.Properties))
	for name := range ps.Properties {
		names = append(names, name)
	}
	slices.Sort(names)
	if len(names) > 0 {
		req := rapid.Permutation(names).Draw(t, label+".required")
		ps.Required = req[:rapid.IntRange(0, len(req)).Draw(t, label+".required.n")]
		ord := rapid.Permutation(names).Draw(t, label+".property_ordering")
		ps.PropertyOrdering = ord[:rapid.IntRange(0, len(ord)).Draw(t, label+".property_ordering.n")]
	}
	switch rapid.IntRange(0, 2).Draw(t, label+".additional_properties") {
	case 1:
		ps.AdditionalProperties = proto.Bool(true)
	case 2:
		if ps.Type == tAny {
			ps.AdditionalProperties = proto.Bool(false)
		}
	}
	ps.MinProperties = optional(t, rapid.Uint64(), label+".min_properties")
	ps.MaxProperties = optional(t, rapid.Uint64(), label+".max_properties")
}

// drawScalar draws a scalar of the type (for ANY, of any kind but bytes,
// which JSON cannot tell from a string without a schema saying bytes).
func drawScalar(t *rapid.T, typ altarv1.AltarType, label string) *altarv1.Value {
	switch typ {
	case tString:
		return schema.String(genText().Draw(t, label))
	case tInteger:
		return schema.Int(rapid.Int64().Draw(t, label))
	case tNumber:
		if rapid.Bool().Draw(t, label+".int") {
			return schema.Int(rapid.Int64().Draw(t, label))
		}
		return schema.Double(rapid.Float64().Draw(t, label))
	case tBoolean:
		return schema.Bool(rapid.Bool().Draw(t, label))
	case tBytes:
		return schema.Bytes(rapid.SliceOfN(rapid.Byte(), 0, 12).Draw(t, label))
	case tNull:
		return schema.Null()
	default:
		k := rapid.SampledFrom([]altarv1.AltarType{tString, tInteger, tNumber, tBoolean, tNull}).Draw(t, label+".kind")
		return drawScalar(t, k, label)
	}
}

// drawValue draws a value shaped by ps.
func drawValue(t *rapid.T, ps *altarv1.ParameterSchema, depth int, label string) *altarv1.Value {
	if ps == nil {
		return drawScalar(t, tAny, label)
	}
	switch ps.GetType() {
	case tArray:
		n := 0
		if depth < 4 {
			n = rapid.IntRange(0, 2).Draw(t, label+".n")
		}
		items := make([]*altarv1.Value, n)
		for i := range items {
			items[i] = drawValue(t, ps.GetItems(), depth+1, label+".item")
		}
		return schema.Array(items...)
	case tObject:
		fields := map[string]*altarv1.Value{}
		if depth < 4 {
			for _, name := range ps.GetRequired() {
				fields[name] = drawValue(t, ps.GetProperties()[name], depth+1, label+"."+name)
			}
		}
		return schema.Object(fields)
	default:
		return drawScalar(t, ps.GetType(), label)
	}
}

// sameJSON reports whether two scalars are one JSON Schema enum member
// (1 and 1.0 are).
func sameJSON(a, b *altarv1.Value) bool {
	num := func(v *altarv1.Value) (float64, bool) {
		switch k := v.GetKind().(type) {
		case *altarv1.Value_IntValue:
			return float64(k.IntValue), true
		case *altarv1.Value_DoubleValue:
			return k.DoubleValue, true
		}
		return 0, false
	}
	if x, ok := num(a); ok {
		y, ok := num(b)
		if ai, isInt := a.GetKind().(*altarv1.Value_IntValue); isInt {
			if bi, isInt := b.GetKind().(*altarv1.Value_IntValue); isInt {
				return ai.IntValue == bi.IntValue
			}
		}
		return ok && x == y
	}
	return proto.Equal(a, b)
}
