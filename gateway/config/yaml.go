package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// decodeFile decodes altar.yaml onto f, which holds the defaults: a key
// the file does not name keeps its default.
func (l *loader) decodeFile(data []byte, f *File) {
	file, err := parse(data)
	if err != nil {
		o := origin{file: l.file}
		msg := err.Error()
		var ye yaml.Error
		if errors.As(err, &ye) {
			msg = ye.GetMessage()
			if tk := ye.GetToken(); tk != nil && tk.Position != nil {
				o.line, o.col = tk.Position.Line, tk.Position.Column
			}
		}
		l.fail(o, "", RuleSyntax, "%s", msg)
		return
	}
	var docs []ast.Node
	for _, d := range file.Docs {
		if d != nil && d.Body != nil {
			docs = append(docs, d.Body)
		}
	}
	switch len(docs) {
	case 0:
		return // an empty file (or only comments) keeps every default
	case 1:
	default:
		l.fail(l.at(docs[1]), "", RuleSyntax, "altar.yaml holds one YAML document; another one starts here")
		return
	}
	l.node(docs[0], reflect.ValueOf(f).Elem(), "", l.at(docs[0]))
}

// parse runs the YAML parser, turning a panic on hostile input into an
// error.
func parse(data []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("the YAML parser failed on this input: %v", r)
		}
	}()
	return parser.ParseBytes(data, 0)
}

func (l *loader) at(n ast.Node) origin {
	o := origin{file: l.file}
	if mv, ok := n.(*ast.MappingValueNode); ok {
		n = mv.Key
	}
	if m, ok := n.(*ast.MappingNode); ok && !m.IsFlowStyle && len(m.Values) > 0 {
		n = m.Values[0].Key
	}
	if n == nil {
		return o
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		o.line, o.col = tk.Position.Line, tk.Position.Column
	}
	return o
}

// resolve looks through anchors (an anchor is allowed; it changes nothing)
// and comments.
func resolve(n ast.Node) ast.Node {
	for {
		switch x := n.(type) {
		case *ast.AnchorNode:
			n = x.Value
		case *ast.CommentGroupNode:
			return nil
		default:
			return n
		}
	}
}

// kindOf names a node's YAML kind for error messages.
func kindOf(n ast.Node) string {
	switch n.(type) {
	case nil, *ast.NullNode:
		return "nothing (null)"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.BoolNode:
		return "a boolean"
	case *ast.IntegerNode:
		return "a number"
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "a number"
	case *ast.StringNode, *ast.LiteralNode:
		return "a string"
	case *ast.AliasNode:
		return "an alias (aliases are not supported in altar.yaml)"
	case *ast.TagNode:
		return "a tagged value (tags are not supported in altar.yaml)"
	}
	return "an unsupported YAML value"
}

// node decodes n onto v, the field at path; where is the position to
// report for the whole value (the key's line for mappings and lists).
func (l *loader) node(n ast.Node, v reflect.Value, path string, where origin) {
	n = resolve(n)
	kind := kindName(v.Type())
	switch {
	case kind == "" && v.Kind() == reflect.Struct:
		l.mapping(n, v, path, where)
		return
	case v.Kind() == reflect.Map:
		l.byName(n, v, path, where)
		return
	case kind == "list" || kind == "keys" || kind == "objects":
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			l.fail(l.at(n), path, RuleKind, "want a list, got %s", kindOf(n))
			return
		}
		l.origin[path] = where
		out := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
		for i, item := range seq.Values {
			p := fmt.Sprintf("%s[%d]", path, i)
			l.origin[p] = l.at(item)
			l.node(item, out.Index(i), p, l.at(item))
		}
		v.Set(out)
		return
	}
	o := l.at(n)
	l.origin[path] = o
	switch kind {
	case "string":
		if s, ok := scalarString(n); ok {
			v.SetString(s)
			return
		}
		hint := ""
		if _, isNull := n.(*ast.NullNode); !isNull && n != nil {
			hint = fmt.Sprintf("; quote it: \"%s\"", n.GetToken().Value)
		}
		l.fail(o, path, RuleKind, "want a string, got %s%s", kindOf(n), hint)
	case "int":
		i, ok := n.(*ast.IntegerNode)
		if !ok {
			l.fail(o, path, RuleKind, "want a whole number, got %s", kindOf(n))
			return
		}
		switch x := i.Value.(type) {
		case int64:
			v.SetInt(x)
		case uint64:
			if x > 1<<62 {
				l.fail(o, path, RuleValue, "%d is too large", x)
				return
			}
			v.SetInt(int64(x))
		}
	case "float":
		switch x := n.(type) {
		case *ast.FloatNode:
			v.SetFloat(x.Value)
		case *ast.IntegerNode:
			switch i := x.Value.(type) {
			case int64:
				v.SetFloat(float64(i))
			case uint64:
				v.SetFloat(float64(i))
			}
		case *ast.InfinityNode, *ast.NanNode:
			l.fail(o, path, RuleValue, "must be a finite number")
		default:
			l.fail(o, path, RuleKind, "want a number, got %s", kindOf(n))
		}
	case "duration":
		s, ok := scalarString(n)
		if !ok {
			l.fail(o, path, RuleKind, "want a duration string such as \"30s\" or \"5m\", got %s", kindOf(n))
			return
		}
		d, err := parseDuration(s)
		if err != nil {
			l.fail(o, path, RuleKind, "%v", err)
			return
		}
		v.SetInt(int64(d))
	}
}

func scalarString(n ast.Node) (string, bool) {
	switch x := n.(type) {
	case *ast.StringNode:
		return x.Value, true
	case *ast.LiteralNode:
		return x.Value.Value, true
	}
	return "", false
}

// mappingValues returns the entries of the YAML mapping n, and records
// where path is; anything else fails as not "a mapping of " + of.
func (l *loader) mappingValues(n ast.Node, path string, where origin, of string) ([]*ast.MappingValueNode, bool) {
	var values []*ast.MappingValueNode
	switch m := n.(type) {
	case *ast.MappingNode:
		values = m.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{m}
	default:
		o := where
		if n != nil {
			o = l.at(n)
		}
		l.fail(o, path, RuleKind, "want a mapping of %s, got %s", of, kindOf(n))
		return nil, false
	}
	l.origin[path] = where
	return values, true
}

// mapping decodes a YAML mapping onto the struct v: every key must name a
// field.
func (l *loader) mapping(n ast.Node, v reflect.Value, path string, where origin) {
	values, ok := l.mappingValues(n, path, where, fieldList(v.Type()))
	if !ok {
		return
	}
	seen := map[string]bool{}
	for _, mv := range values {
		ko := l.at(mv.Key)
		name, ok := scalarString(resolve(mv.Key))
		if !ok {
			name = mv.Key.String()
		}
		p := name
		if path != "" {
			p = path + "." + name
		}
		if seen[name] {
			l.fail(ko, p, RuleUnknown, "the key is given twice")
			continue
		}
		seen[name] = true
		idx := fieldIndex(v.Type(), name)
		if idx < 0 {
			l.fail(ko, p, RuleUnknown, "unknown key %q; %s", name, allowedKeys(v.Type(), path))
			continue
		}
		l.node(mv.Value, v.Field(idx), p, ko)
	}
}

// byName decodes a YAML mapping onto the map v: each key is a name (a
// tool's, a runtime's) and each value is decoded as the map's element type.
func (l *loader) byName(n ast.Node, v reflect.Value, path string, where origin) {
	values, ok := l.mappingValues(n, path, where, "names to "+elemKind(v.Type().Elem()))
	if !ok {
		return
	}
	out := reflect.MakeMapWithSize(v.Type(), len(values))
	for _, mv := range values {
		ko := l.at(mv.Key)
		name, ok := scalarString(resolve(mv.Key))
		if !ok {
			l.fail(ko, path, RuleKind, "want a name as the key, got %s", kindOf(resolve(mv.Key)))
			continue
		}
		p := path + "." + name
		if out.MapIndex(reflect.ValueOf(name)).IsValid() {
			l.fail(ko, p, RuleUnknown, "the key is given twice")
			continue
		}
		l.origin[p] = ko
		elem := reflect.New(v.Type().Elem()).Elem()
		l.node(mv.Value, elem, p, ko)
		out.SetMapIndex(reflect.ValueOf(name), elem)
	}
	v.Set(out)
}

// elemKind names a map's element type for error messages.
func elemKind(t reflect.Type) string {
	if t.Kind() == reflect.Struct {
		return "mappings of " + fieldList(t)
	}
	return kindName(t) + "s"
}

func fieldIndex(t reflect.Type, name string) int {
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); tag == name {
			return i
		}
	}
	return -1
}

func fieldList(t reflect.Type) string {
	var names []string
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); tag != "" && tag != "-" {
			names = append(names, tag)
		}
	}
	return strings.Join(names, ", ")
}

func allowedKeys(t reflect.Type, path string) string {
	where := "here"
	if path != "" {
		where = "in " + path
	}
	return "the keys " + where + " are " + fieldList(t)
}
