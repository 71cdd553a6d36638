package contract

import (
	"encoding/base64"
	"math"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// The manifest format: keys are the proto field names. Every key of every
// level is listed here; any other key is an error.
var (
	manifestKeys = []string{"$schema", "manifest_version", "global_metadata", "contracts", "x-…"}
	contractKeys = []string{
		"name", "version", "description", "parameters", "return_type", "supports_streaming",
		"security_requirements", "flags", "metadata", "compliance_level", "timeout_ms",
		"cache_ttl_ms", "required_capabilities",
	}
	securityKeys = []string{"scheme", "scopes"}
	flagKeys     = []string{
		"read_only", "idempotent", "deprecated", "deprecation_message", "destructive",
		"open_world", "cacheable",
	}
	schemaKeys = []string{
		"type", "title", "description", "nullable",
		"minimum", "maximum", "exclusive_minimum", "exclusive_maximum", "multiple_of",
		"min_length", "max_length", "pattern", "format",
		"enum", "default",
		"items", "min_items", "max_items", "unique_items",
		"properties", "required", "property_ordering", "additional_properties",
		"min_properties", "max_properties",
		"any_of", "sensitive",
	}
)

func (d *decoder) manifest(n ast.Node) *altarv1.ToolManifest {
	m := &altarv1.ToolManifest{}
	es, ok := d.entries(n, "", "a mapping with manifest_version and contracts")
	if !ok {
		return nil
	}
	for _, e := range es {
		switch e.key {
		case "$schema":
			// A pointer to manifest.schema.json for editors; ignored.
			d.str(e.val, e.path)
		case "manifest_version":
			m.ManifestVersion, _ = d.str(e.val, e.path)
		case "global_metadata":
			m.GlobalMetadata = d.strMap(e.val, e.path)
		case "contracts":
			items := d.seq(e.val, e.path, "a sequence of contracts")
			for i, item := range items {
				p := joinIndex(e.path, i)
				if i == MaxContracts {
					d.p.add(d.at(item), p, RuleLimit, "more than the limit of %d contracts in one manifest", MaxContracts)
					break
				}
				m.Contracts = append(m.Contracts, d.contract(item, p))
			}
		default:
			if strings.HasPrefix(e.key, "x-") {
				continue // an extension key, a place for YAML anchors; ignored
			}
			d.unknown(e, manifestKeys)
		}
	}
	return m
}

func (d *decoder) contract(n ast.Node, path string) *altarv1.ToolContract {
	c := &altarv1.ToolContract{}
	es, _ := d.entries(n, path, "a contract (a mapping)")
	for _, e := range es {
		switch e.key {
		case "name":
			c.Name, _ = d.str(e.val, e.path)
		case "version":
			c.Version, _ = d.str(e.val, e.path)
		case "description":
			c.Description, _ = d.str(e.val, e.path)
		case "parameters":
			c.Parameters = d.schema(e.val, e.path)
		case "return_type":
			c.ReturnType = d.schema(e.val, e.path)
		case "supports_streaming":
			c.SupportsStreaming, _ = d.boolean(e.val, e.path)
		case "security_requirements":
			for i, item := range d.seq(e.val, e.path, "a sequence of security requirements") {
				c.SecurityRequirements = append(c.SecurityRequirements, d.security(item, joinIndex(e.path, i)))
			}
		case "flags":
			c.Flags = d.flags(e.val, e.path)
		case "metadata":
			c.Metadata = d.strMap(e.val, e.path)
		case "compliance_level":
			if v, ok := d.integer(e.val, e.path); ok {
				if v < 1 || v > 3 {
					d.p.add(d.at(e.val), e.path, RuleRange, "compliance_level must be 1, 2 or 3, not %d", v)
				} else {
					c.ComplianceLevel = altarv1.ComplianceLevel(v)
				}
			}
		case "timeout_ms":
			c.TimeoutMs, _ = d.integer(e.val, e.path)
		case "cache_ttl_ms":
			c.CacheTtlMs, _ = d.integer(e.val, e.path)
		case "required_capabilities":
			c.RequiredCapabilities = d.strList(e.val, e.path)
		default:
			d.unknown(e, contractKeys)
		}
	}
	return c
}

func (d *decoder) security(n ast.Node, path string) *altarv1.SecurityRequirement {
	s := &altarv1.SecurityRequirement{}
	es, _ := d.entries(n, path, "a security requirement (a mapping with scheme and scopes)")
	for _, e := range es {
		switch e.key {
		case "scheme":
			s.Scheme, _ = d.str(e.val, e.path)
		case "scopes":
			s.Scopes = d.strList(e.val, e.path)
		default:
			d.unknown(e, securityKeys)
		}
	}
	return s
}

func (d *decoder) flags(n ast.Node, path string) *altarv1.ToolFlags {
	f := &altarv1.ToolFlags{}
	es, _ := d.entries(n, path, "a mapping of flags")
	for _, e := range es {
		switch e.key {
		case "read_only":
			f.ReadOnly, _ = d.boolean(e.val, e.path)
		case "idempotent":
			f.Idempotent, _ = d.boolean(e.val, e.path)
		case "deprecated":
			f.Deprecated, _ = d.boolean(e.val, e.path)
		case "deprecation_message":
			f.DeprecationMessage, _ = d.str(e.val, e.path)
		case "destructive":
			f.Destructive, _ = d.boolean(e.val, e.path)
		case "open_world":
			f.OpenWorld, _ = d.boolean(e.val, e.path)
		case "cacheable":
			f.Cacheable, _ = d.boolean(e.val, e.path)
		default:
			d.unknown(e, flagKeys)
		}
	}
	return f
}

// schema decodes a ParameterSchema. Its checks (bounds, patterns, enum
// members, defaults, required names, depth) are schema.Compile's, run later;
// here only what cannot even be represented is reported.
func (d *decoder) schema(n ast.Node, path string) *altarv1.ParameterSchema {
	ps := &altarv1.ParameterSchema{}
	es, ok := d.entries(n, path, "a schema (a mapping with a type)")
	if !ok {
		return nil
	}
	var (
		order       []string
		explicitOrd bool
		enumPaths   []string
		defaultPath string
	)
	for _, e := range es {
		switch e.key {
		case "type":
			if s, ok := d.str(e.val, e.path); ok {
				t, known := schema.ParseTypeName(s)
				if !known {
					d.p.add(d.at(e.val), e.path, "type", "unknown type %s%s; the types are string, integer, number, boolean, bytes, array, object, null and any",
						strconv.Quote(s), suggest(s, typeNames))
				}
				ps.Type = t
			}
		case "title":
			ps.Title, _ = d.str(e.val, e.path)
		case "description":
			ps.Description, _ = d.str(e.val, e.path)
		case "nullable":
			ps.Nullable, _ = d.boolean(e.val, e.path)
		case "minimum":
			ps.Minimum = d.number(e.val, e.path)
		case "maximum":
			ps.Maximum = d.number(e.val, e.path)
		case "exclusive_minimum":
			ps.ExclusiveMinimum = d.number(e.val, e.path)
		case "exclusive_maximum":
			ps.ExclusiveMaximum = d.number(e.val, e.path)
		case "multiple_of":
			ps.MultipleOf = d.number(e.val, e.path)
		case "min_length":
			ps.MinLength = d.count(e.val, e.path)
		case "max_length":
			ps.MaxLength = d.count(e.val, e.path)
		case "pattern":
			ps.Pattern, _ = d.str(e.val, e.path)
		case "format":
			ps.Format, _ = d.str(e.val, e.path)
		case "enum":
			// A member that cannot be read drops the whole list, so that
			// schema.Compile's indexes stay those of the file.
			items := d.seq(e.val, e.path, "a sequence of values")
			all := true
			for i, item := range items {
				p := joinIndex(e.path, i)
				v, ok := d.value(item, p)
				all = all && ok
				ps.Enum = append(ps.Enum, v)
				enumPaths = append(enumPaths, p)
			}
			if !all {
				ps.Enum, enumPaths = nil, nil
			}
		case "default":
			if v, ok := d.value(e.val, e.path); ok {
				ps.Default, defaultPath = v, e.path
			}
		case "items":
			ps.Items = orAny(d.schema(e.val, e.path))
		case "min_items":
			ps.MinItems = d.count(e.val, e.path)
		case "max_items":
			ps.MaxItems = d.count(e.val, e.path)
		case "unique_items":
			ps.UniqueItems, _ = d.boolean(e.val, e.path)
		case "properties":
			props, ok := d.entries(e.val, e.path, "a mapping of property names to schemas")
			if !ok || len(props) == 0 {
				continue
			}
			ps.Properties = make(map[string]*altarv1.ParameterSchema, len(props))
			order = order[:0]
			for _, pe := range props {
				ps.Properties[pe.key] = orAny(d.schema(pe.val, pe.path))
				order = append(order, pe.key)
			}
		case "required":
			ps.Required = d.strList(e.val, e.path)
		case "property_ordering":
			ps.PropertyOrdering = d.strList(e.val, e.path)
			explicitOrd = true
		case "additional_properties":
			if b, ok := d.boolean(e.val, e.path); ok {
				ps.AdditionalProperties = &b
			}
		case "min_properties":
			ps.MinProperties = d.count(e.val, e.path)
		case "max_properties":
			ps.MaxProperties = d.count(e.val, e.path)
		case "any_of":
			for i, item := range d.seq(e.val, e.path, "a sequence of schemas") {
				ps.AnyOf = append(ps.AnyOf, orAny(d.schema(item, joinIndex(e.path, i))))
			}
		case "sensitive":
			ps.Sensitive, _ = d.boolean(e.val, e.path)
		default:
			d.unknown(e, schemaKeys)
		}
	}
	if !explicitOrd && len(order) > 0 {
		ps.PropertyOrdering = order
	}
	// JSON and YAML have no bytes: where the schema says bytes, a base64
	// string is the value (value.proto's natural JSON mapping).
	for i, p := range enumPaths {
		ps.Enum[i] = d.bytesFor(ps.Enum[i], ps, p, 0)
	}
	if ps.Default != nil {
		ps.Default = d.bytesFor(ps.Default, ps, defaultPath, 0)
	}
	return ps
}

// orAny stands in for a nested schema that could not be decoded (and was
// reported), so that it does not cause more reports (a required name that
// is suddenly unknown).
func orAny(ps *altarv1.ParameterSchema) *altarv1.ParameterSchema {
	if ps == nil {
		return &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_ANY}
	}
	return ps
}

var typeNames = []string{"string", "integer", "number", "boolean", "bytes", "array", "object", "null", "any"}

// bytesFor converts the base64 strings of v to bytes wherever ps says bytes,
// through array items and object properties.
func (d *decoder) bytesFor(v *altarv1.Value, ps *altarv1.ParameterSchema, path string, depth int) *altarv1.Value {
	if ps == nil || depth > MaxDepth {
		return v
	}
	switch k := v.GetKind().(type) {
	case *altarv1.Value_StringValue:
		if ps.GetType() != altarv1.AltarType_ALTAR_TYPE_BYTES {
			return v
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(k.StringValue); err == nil {
				return schema.Bytes(b)
			}
		}
		d.p.add(d.pos[path], path, RuleValue, "a bytes value is written in base64, and %s is not base64", quoteShort(k.StringValue))
		return v
	case *altarv1.Value_ArrayValue:
		if ps.GetItems() == nil {
			return v
		}
		for i, item := range k.ArrayValue.GetItems() {
			k.ArrayValue.Items[i] = d.bytesFor(item, ps.GetItems(), joinIndex(path, i), depth+1)
		}
	case *altarv1.Value_ObjectValue:
		for name, item := range k.ObjectValue.GetFields() {
			if sub := ps.GetProperties()[name]; sub != nil {
				k.ObjectValue.Fields[name] = d.bytesFor(item, sub, joinKey(path, name), depth+1)
			}
		}
	}
	return v
}

// Typed scalars. Each reports a node of the wrong kind, naming the field,
// and gives ok false; an alias that could not be resolved was reported
// already and is passed over silently.

func (d *decoder) scalarOf(n ast.Node, path, want string) (*altarv1.Value, bool) {
	r, tag := d.resolve(n)
	if r == nil && d.isAliasChain(n) {
		return nil, false
	}
	switch r.(type) {
	case *ast.MappingNode, *ast.SequenceNode:
		d.kindError(n, path, want)
		return nil, false
	}
	v, ok := d.scalar(r, tag, path)
	if !ok {
		return nil, false
	}
	return v, true
}

func (d *decoder) str(n ast.Node, path string) (string, bool) {
	v, ok := d.scalarOf(n, path, "a string")
	if !ok {
		return "", false
	}
	s, isStr := v.GetKind().(*altarv1.Value_StringValue)
	if !isStr {
		d.kindError(n, path, "a string")
		return "", false
	}
	return s.StringValue, true
}

func (d *decoder) boolean(n ast.Node, path string) (bool, bool) {
	v, ok := d.scalarOf(n, path, "a boolean (true or false)")
	if !ok {
		return false, false
	}
	b, isBool := v.GetKind().(*altarv1.Value_BoolValue)
	if !isBool {
		d.kindError(n, path, "a boolean (true or false)")
		return false, false
	}
	return b.BoolValue, true
}

func (d *decoder) integer(n ast.Node, path string) (int64, bool) {
	v, ok := d.scalarOf(n, path, "an integer")
	if !ok {
		return 0, false
	}
	i, isInt := v.GetKind().(*altarv1.Value_IntValue)
	if !isInt {
		d.kindError(n, path, "an integer")
		return 0, false
	}
	return i.IntValue, true
}

// number decodes an optional double: an integer or a number.
func (d *decoder) number(n ast.Node, path string) *float64 {
	v, ok := d.scalarOf(n, path, "a number")
	if !ok {
		return nil
	}
	var f float64
	switch k := v.GetKind().(type) {
	case *altarv1.Value_IntValue:
		f = float64(k.IntValue)
	case *altarv1.Value_DoubleValue:
		f = k.DoubleValue
	default:
		d.kindError(n, path, "a number")
		return nil
	}
	return &f
}

// count decodes an optional non-negative integer.
func (d *decoder) count(n ast.Node, path string) *uint64 {
	i, ok := d.integer(n, path)
	if !ok {
		return nil
	}
	if i < 0 {
		d.p.add(d.at(n), path, RuleRange, "must not be negative, not %d", i)
		return nil
	}
	u := uint64(i)
	return &u
}

// seq returns the items of a sequence, recording their positions.
func (d *decoder) seq(n ast.Node, path, what string) []ast.Node {
	r, _ := d.resolve(n)
	s, ok := r.(*ast.SequenceNode)
	if !ok {
		if r != nil || !d.isAliasChain(n) {
			d.kindError(n, path, what)
		}
		return nil
	}
	for i, item := range s.Values {
		p := joinIndex(path, i)
		if _, seen := d.pos[p]; !seen {
			d.pos[p] = d.at(item)
		}
	}
	return s.Values
}

func (d *decoder) strList(n ast.Node, path string) []string {
	items := d.seq(n, path, "a sequence of strings")
	if items == nil {
		return nil
	}
	// An item that cannot be read drops the whole list, so that later
	// checks' indexes stay those of the file.
	out := make([]string, 0, len(items))
	all := true
	for i, item := range items {
		s, ok := d.str(item, joinIndex(path, i))
		all = all && ok
		out = append(out, s)
	}
	if !all {
		return nil
	}
	return out
}

func (d *decoder) strMap(n ast.Node, path string) map[string]string {
	es, ok := d.entries(n, path, "a mapping of strings to strings")
	if !ok || len(es) == 0 {
		return nil
	}
	out := make(map[string]string, len(es))
	for _, e := range es {
		if s, ok := d.str(e.val, e.path); ok {
			out[e.key] = s
		}
	}
	return out
}

// unknown reports a key the format does not define, suggesting the nearest
// known one.
func (d *decoder) unknown(e entry, known []string) {
	if hint := suggest(e.key, known); hint != "" {
		d.p.add(e.kpos, e.path, RuleUnknownKey, "unknown key %s%s", strconv.Quote(e.key), hint)
		return
	}
	if len(known) <= 8 {
		d.p.add(e.kpos, e.path, RuleUnknownKey, "unknown key %s; the keys here are %s", strconv.Quote(e.key), strings.Join(known, ", "))
		return
	}
	d.p.add(e.kpos, e.path, RuleUnknownKey, "unknown key %s (docs/manifests.md lists the keys)", strconv.Quote(e.key))
}

// suggest returns ` (did you mean "x"?)` for the known word nearest to s,
// when one is near enough to be a typo.
func suggest(s string, known []string) string {
	best, bestDist := "", math.MaxInt
	for _, k := range known {
		if dist := editDistance(strings.ToLower(s), k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best == "" || bestDist > max(1, min(3, len(best)/3)) {
		return ""
	}
	return " (did you mean " + strconv.Quote(best) + "?)"
}

// editDistance is the Levenshtein distance between two short words.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return math.MaxInt
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
