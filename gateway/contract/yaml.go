package contract

import (
	"encoding/base64"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"

	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// This file is the generic half of the decoder: YAML nodes to positions,
// anchors and aliases, mapping entries, scalars and Values. decode.go is the
// manifest format on top of it.

// decoder turns one YAML document into a ToolManifest, recording where each
// field came from and every problem it meets.
type decoder struct {
	file string
	p    *problems
	// pos is the position of every decoded path: the key's position for
	// mappings and sequences (the line that names them), the value's for
	// scalars.
	pos map[string]Position
	// alias resolves each alias to its anchor's value.
	alias map[*ast.AliasNode]ast.Node
	depth int
}

func (d *decoder) at(n ast.Node) Position {
	line, col := nodePos(n)
	return Position{File: d.file, Line: line, Column: col}
}

// nodePos is where a node starts. A block mapping starts at its first key
// (goccy's token for it is the first ":").
func nodePos(n ast.Node) (line, col int) {
	if n == nil {
		return 0, 0
	}
	switch x := n.(type) {
	case *ast.MappingNode:
		if !x.IsFlowStyle && len(x.Values) > 0 {
			return nodePos(x.Values[0].Key)
		}
	case *ast.MappingValueNode:
		return nodePos(x.Key)
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return 0, 0
	}
	return tk.Position.Line, tk.Position.Column
}

// anchors is the first pass over a document: it resolves every alias to the
// nearest anchor of that name before it, refuses aliases that point nowhere
// or into themselves, and bounds how many nodes aliases may add (a "billion
// laughs" document is refused before anything is expanded). Its recursion is
// bounded by prescan's depth limit.
type anchors struct {
	d       *decoder
	current map[string]*ast.AnchorNode
	size    map[*ast.AnchorNode]int
	open    map[*ast.AnchorNode]bool
	extra   int  // nodes added by expanding aliases
	over    bool // the expansion limit was reported
}

func (a *anchors) walk(n ast.Node) int {
	switch x := n.(type) {
	case nil:
		return 0
	case *ast.AnchorNode:
		name := x.Name.GetToken().Value
		a.current[name] = x
		a.open[x] = true
		sz := a.walk(x.Value)
		a.open[x] = false
		a.size[x] = sz
		return sz
	case *ast.AliasNode:
		name := x.Value.GetToken().Value
		target := a.current[name]
		switch {
		case target == nil:
			a.d.p.add(a.d.at(x), yamlPath(x), RuleAlias, "alias *%s refers to no anchor &%s defined before it", name, name)
			return 1
		case a.open[target]:
			a.d.p.add(a.d.at(x), yamlPath(x), RuleAlias, "alias *%s is inside its own anchor &%s (a cycle)", name, name)
			return 1
		}
		sz := a.size[target]
		a.extra += sz
		if a.extra > MaxAliasExpansion {
			if !a.over {
				a.over = true
				a.d.p.add(a.d.at(x), yamlPath(x), RuleLimit,
					"aliases expand to more than the limit of %d nodes (a \"billion laughs\" document?)", MaxAliasExpansion)
			}
			return 1
		}
		a.d.alias[x] = target.Value
		return sz
	case *ast.MappingNode:
		sz := 1
		for _, mv := range x.Values {
			sz += a.walk(mv.Key) + a.walk(mv.Value)
		}
		return sz
	case *ast.MappingValueNode:
		return a.walk(x.Key) + a.walk(x.Value)
	case *ast.MappingKeyNode:
		return a.walk(x.Value)
	case *ast.SequenceNode:
		sz := 1
		for _, v := range x.Values {
			sz += a.walk(v)
		}
		return sz
	case *ast.TagNode:
		return a.walk(x.Value)
	default:
		return 1
	}
}

// yamlPath is the path goccy recorded for a node ("$.contracts[0].flags"),
// in the loader's spelling ("contracts[0].flags"). It serves where the
// loader has not walked yet (the first pass over anchors).
func yamlPath(n ast.Node) string {
	return strings.TrimPrefix(strings.TrimPrefix(n.GetPath(), "$"), ".")
}

// resolve looks through anchors, aliases and tags to the node that carries
// the data; tag is the last tag met ("!!str"), "" for none. An unresolved
// alias (already reported) gives nil.
func (d *decoder) resolve(n ast.Node) (_ ast.Node, tag string) {
	for range 16 {
		switch x := n.(type) {
		case *ast.AnchorNode:
			n = x.Value
		case *ast.AliasNode:
			n = d.alias[x]
		case *ast.TagNode:
			tag = x.Start.Value
			n = x.Value
		case *ast.MappingKeyNode:
			n = x.Value
		default:
			return n, tag
		}
	}
	return nil, tag
}

// enter counts one level of nesting; it reports false (once, at n) when the
// document is nested too deep, and then the caller must not descend.
func (d *decoder) enter(n ast.Node, path string) bool {
	if d.depth >= MaxDepth {
		d.p.add(d.at(n), path, RuleLimit, "nested deeper than the limit of %d levels", MaxDepth)
		return false
	}
	d.depth++
	return true
}

func (d *decoder) leave() { d.depth-- }

// kindOf names what a resolved node holds, for messages.
func kindOf(n ast.Node) string {
	switch x := n.(type) {
	case nil, *ast.NullNode:
		return "null"
	case *ast.MappingNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a sequence"
	case *ast.BoolNode:
		return "a boolean"
	case *ast.IntegerNode:
		return "an integer"
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "a number"
	case *ast.StringNode:
		if x.Token != nil && x.Token.Type == token.StringType && numberText.MatchString(x.Value) {
			return "a number"
		}
		return "a string"
	case *ast.LiteralNode:
		return "a string"
	default:
		return "a " + n.Type().YAMLName()
	}
}

// kindError reports that the node at path is not what the format wants.
func (d *decoder) kindError(n ast.Node, path, want string) {
	r, tag := d.resolve(n)
	got := kindOf(r)
	if tag != "" {
		got += " (tagged " + tag + ")"
	}
	hint := ""
	switch {
	case want == "a string":
		switch r.(type) {
		case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
			hint = "; quote it: \"" + r.GetToken().Value + "\""
		}
	case strings.HasPrefix(want, "a boolean"):
		if s, ok := r.(*ast.StringNode); ok && s.Token != nil && s.Token.Type == token.StringType {
			switch strings.ToLower(s.Value) {
			case "yes", "no", "on", "off", "y", "n":
				hint = " (YAML 1.2 reads " + s.Value + " as a string; write true or false)"
			}
		}
	}
	d.p.add(d.at(n), path, RuleKind, "expected %s, got %s%s", want, got, hint)
}

// entry is one key of a mapping, after merge keys are resolved.
type entry struct {
	key  string
	kpos Position // the key's position
	val  ast.Node
	path string
}

// entries returns the keys of the mapping n in document order. Merge keys
// ("<<: *base") are resolved: keys written in the mapping win, then the
// merged mappings in their order. A node that is not a mapping is reported
// as expecting what, and gives ok false.
func (d *decoder) entries(n ast.Node, path, what string) (_ []entry, ok bool) {
	r, _ := d.resolve(n)
	m, isMap := r.(*ast.MappingNode)
	if !isMap {
		if r != nil || !d.isAliasChain(n) {
			d.kindError(n, path, what)
		}
		return nil, false
	}
	if !d.enter(n, path) {
		return nil, false
	}
	defer d.leave()
	explicit := make(map[string]bool, len(m.Values))
	for _, mv := range m.Values {
		if !mv.Key.IsMergeKey() {
			if k, ok := d.keyString(mv.Key); ok {
				explicit[k] = true
			}
		}
	}
	out := make([]entry, 0, len(m.Values))
	have := make(map[string]bool, len(m.Values))
	add := func(e entry, fromMerge bool) {
		if have[e.key] || (fromMerge && explicit[e.key]) {
			return
		}
		have[e.key] = true
		e.path = joinKey(path, e.key)
		if _, ok := d.pos[e.path]; !ok {
			v, _ := d.resolve(e.val)
			switch v.(type) {
			case *ast.MappingNode, *ast.SequenceNode:
				d.pos[e.path] = e.kpos
			default:
				d.pos[e.path] = d.at(e.val)
			}
		}
		out = append(out, e)
	}
	for _, mv := range m.Values {
		if mv.Key.IsMergeKey() {
			for _, e := range d.merged(mv.Value, path) {
				add(e, true)
			}
			continue
		}
		k, ok := d.keyString(mv.Key)
		if !ok {
			kr, _ := d.resolve(mv.Key)
			d.p.add(d.at(mv.Key), path, RuleKind, "mapping keys must be strings, got %s %s; quote it",
				kindOf(kr), strconv.Quote(mv.Key.String()))
			continue
		}
		add(entry{key: k, kpos: d.at(mv.Key), val: mv.Value}, false)
	}
	return out, true
}

// merged returns the entries a merge key's value brings: a mapping, or a
// sequence of mappings (earlier ones win).
func (d *decoder) merged(n ast.Node, path string) []entry {
	r, _ := d.resolve(n)
	if seq, ok := r.(*ast.SequenceNode); ok {
		var out []entry
		for _, item := range seq.Values {
			if ir, _ := d.resolve(item); ir != nil {
				if _, isMap := ir.(*ast.MappingNode); !isMap {
					d.p.add(d.at(item), joinKey(path, "<<"), RuleAlias, "a merge key (<<) takes a mapping or a sequence of mappings, not %s", kindOf(ir))
					continue
				}
			}
			es, _ := d.entries(item, path, "a mapping")
			out = append(out, es...)
		}
		return out
	}
	if _, isMap := r.(*ast.MappingNode); !isMap {
		if r != nil {
			d.p.add(d.at(n), joinKey(path, "<<"), RuleAlias, "a merge key (<<) takes a mapping or a sequence of mappings, not %s", kindOf(r))
		}
		return nil
	}
	es, _ := d.entries(n, path, "a mapping")
	return es
}

// keyString is a mapping key's text when the key is a string.
func (d *decoder) keyString(n ast.Node) (string, bool) {
	r, tag := d.resolve(n)
	switch x := r.(type) {
	case *ast.StringNode:
		if tag == "" && kindOf(x) != "a string" {
			return "", false
		}
		return x.Value, true
	case *ast.LiteralNode:
		return x.Value.Value, true
	}
	if tag == "!!str" && r != nil {
		return r.GetToken().Value, true
	}
	return "", false
}

// Numbers. The YAML 1.2 core schema is followed, so that JSON numbers and
// YAML numbers mean the same: an integer is decimal ("-12"), "0x" hex or
// "0o" octal; anything with a fraction or an exponent is a double ("3.0",
// "1e3"). YAML 1.1 spellings that read differently elsewhere ("010" as octal,
// "1_000", "0b101") are refused rather than guessed.
var (
	decimalText = regexp.MustCompile(`^[-+]?(0|[1-9][0-9]*)$`)
	hexText     = regexp.MustCompile(`^0x[0-9a-fA-F]+$`)
	octalText   = regexp.MustCompile(`^0o[0-7]+$`)
	numberText  = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)
)

func (d *decoder) parseInt(n ast.Node, path, text string) (*altarv1.Value, bool) {
	var (
		u   uint64
		err error
	)
	switch {
	case decimalText.MatchString(text):
		i, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			d.p.add(d.at(n), path, RuleValue, "integer %s is outside the int64 range", text)
			return nil, false
		}
		return schema.Int(i), true
	case hexText.MatchString(text):
		u, err = strconv.ParseUint(text[2:], 16, 64)
	case octalText.MatchString(text):
		u, err = strconv.ParseUint(text[2:], 8, 64)
	default:
		d.p.add(d.at(n), path, RuleValue,
			"integer %s is ambiguous (YAML 1.1 reads leading zeros as octal, and \"_\" and 0b are not YAML 1.2): write it in decimal, or with 0x or 0o", text)
		return nil, false
	}
	if err != nil || u > math.MaxInt64 {
		d.p.add(d.at(n), path, RuleValue, "integer %s is outside the int64 range", text)
		return nil, false
	}
	return schema.Int(int64(u)), true
}

func (d *decoder) parseFloat(n ast.Node, path, text string) (*altarv1.Value, bool) {
	if !numberText.MatchString(text) {
		d.p.add(d.at(n), path, RuleValue, "number %s is not written as a JSON or YAML 1.2 number", text)
		return nil, false
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) {
		d.p.add(d.at(n), path, RuleValue, "number %s is outside the range of a 64-bit double", text)
		return nil, false
	}
	return schema.Double(f), true
}

// scalar converts a resolved scalar node to a Value, applying the standard
// tags. A problem is reported and gives ok false.
func (d *decoder) scalar(n ast.Node, tag, path string) (*altarv1.Value, bool) {
	at := n
	switch tag {
	case "":
	case "!!str":
		if n == nil {
			return schema.String(""), true
		}
		if s, ok := n.(*ast.StringNode); ok {
			return schema.String(s.Value), true
		}
		if l, ok := n.(*ast.LiteralNode); ok {
			return schema.String(l.Value.Value), true
		}
		if _, ok := n.(*ast.NullNode); ok {
			return schema.String(""), true
		}
		return schema.String(n.GetToken().Value), true
	case "!!binary":
		v, ok := d.scalar(n, "", path)
		if !ok {
			return nil, false
		}
		s, isStr := v.GetKind().(*altarv1.Value_StringValue)
		if !isStr {
			d.p.add(d.at(at), path, RuleValue, "!!binary takes a base64 string, not %s", kindOf(n))
			return nil, false
		}
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s.StringValue), ""))
		if err != nil {
			d.p.add(d.at(at), path, RuleValue, "!!binary value is not valid base64: %v", err)
			return nil, false
		}
		return schema.Bytes(b), true
	case "!!int", "!!float", "!!bool", "!!null":
		v, ok := d.scalar(n, "", path)
		if !ok {
			return nil, false
		}
		want := map[string]string{"!!int": "integer", "!!float": "number", "!!bool": "boolean", "!!null": "null"}[tag]
		got := schema.Kind(v)
		if tag == "!!float" && got == "integer" {
			return schema.Double(float64(v.GetIntValue())), true
		}
		if got != want {
			d.p.add(d.at(at), path, RuleValue, "%s does not fit %s", tag, kindOf(n))
			return nil, false
		}
		return v, true
	default:
		d.p.add(d.at(at), path, RuleValue, "tag %s is not supported (only the standard !!str, !!int, !!float, !!bool, !!null, !!binary, !!map and !!seq)", tag)
		return nil, false
	}
	switch x := n.(type) {
	case nil, *ast.NullNode:
		return schema.Null(), true
	case *ast.BoolNode:
		return schema.Bool(x.Value), true
	case *ast.IntegerNode:
		return d.parseInt(n, path, x.Token.Value)
	case *ast.FloatNode:
		return d.parseFloat(n, path, x.Token.Value)
	case *ast.InfinityNode, *ast.NanNode:
		d.p.add(d.at(n), path, RuleValue, "%s cannot be represented: JSON has no infinities or NaN", x.GetToken().Value)
		return nil, false
	case *ast.StringNode:
		if x.Token != nil && x.Token.Type == token.StringType && numberText.MatchString(x.Value) {
			// goccy leaves exponents without a "." ("1e3") and integers
			// beyond uint64 as strings; YAML 1.2 and JSON read numbers.
			if strings.ContainsAny(x.Value, ".eE") {
				return d.parseFloat(n, path, x.Value)
			}
			return d.parseInt(n, path, x.Value)
		}
		return schema.String(x.Value), true
	case *ast.LiteralNode:
		return schema.String(x.Value.Value), true
	default:
		d.p.add(d.at(n), path, RuleKind, "expected a scalar, got %s", kindOf(n))
		return nil, false
	}
}

// value converts any node to a Value: scalars as scalar does, sequences to
// arrays, mappings (with string keys) to objects.
func (d *decoder) value(n ast.Node, path string) (*altarv1.Value, bool) {
	r, tag := d.resolve(n)
	if r == nil && d.isAliasChain(n) {
		return nil, false // an unresolved alias, already reported
	}
	switch x := r.(type) {
	case *ast.SequenceNode:
		if tag != "" && tag != "!!seq" {
			d.p.add(d.at(n), path, RuleValue, "tag %s does not fit a sequence", tag)
			return nil, false
		}
		if !d.enter(n, path) {
			return nil, false
		}
		defer d.leave()
		items := make([]*altarv1.Value, 0, len(x.Values))
		ok := true
		for i, item := range x.Values {
			p := joinIndex(path, i)
			if _, seen := d.pos[p]; !seen {
				d.pos[p] = d.at(item)
			}
			v, good := d.value(item, p)
			ok = ok && good
			items = append(items, v)
		}
		return schema.Array(items...), ok
	case *ast.MappingNode:
		if tag != "" && tag != "!!map" {
			d.p.add(d.at(n), path, RuleValue, "tag %s does not fit a mapping", tag)
			return nil, false
		}
		es, ok := d.entries(n, path, "a mapping")
		fields := make(map[string]*altarv1.Value, len(es))
		for _, e := range es {
			v, good := d.value(e.val, e.path)
			ok = ok && good
			fields[e.key] = v
		}
		return schema.Object(fields), ok
	default:
		if tag == "!!map" || tag == "!!seq" {
			d.p.add(d.at(n), path, RuleValue, "tag %s does not fit %s", tag, kindOf(r))
			return nil, false
		}
		return d.scalar(r, tag, path)
	}
}

// isAliasChain reports whether n is (or wraps) an alias.
func (d *decoder) isAliasChain(n ast.Node) bool {
	for range 16 {
		switch x := n.(type) {
		case *ast.AliasNode:
			return true
		case *ast.AnchorNode:
			n = x.Value
		case *ast.TagNode:
			n = x.Value
		default:
			return false
		}
	}
	return false
}
