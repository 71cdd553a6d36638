package jsonschema

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// This file flattens a schema object before it is imported: "$ref" is
// replaced by its (local) target and "allOf" members are merged in, so that
// what remains is one object of keywords. ALTAR schemas are trees: each
// reference is inlined where it is used, and a reference back into a schema
// that encloses it is an error.

// constValue marks an enum that came from "const", so that errors point there.
type constValue struct{ v any }

// flatten returns m without $ref and allOf: the referenced schema and the
// allOf members are merged into it. path is m's JSON pointer; the returned
// path is where the keywords came from (the target's, for a bare $ref).
// touched lists the $ref targets expanded, which the caller holds as
// ancestors while it imports the subschemas.
func (im *importer) flatten(m map[string]any, path string, level int) (out map[string]any, outPath string, touched []string) {
	out, outPath = im.normalize(m, path), path
	if level > im.lim.MaxDepth {
		im.failLimit(path, "depth", fmt.Sprintf("$ref and allOf nested deeper than %d levels", im.lim.MaxDepth))
		return out, outPath, nil
	}
	if raw, ok := m["$ref"]; ok {
		rp := path + "/$ref"
		ref, isString := raw.(string)
		target, tp, err := im.lookupRef(ref)
		switch {
		case !isString:
			im.fail(rp, "$ref", "$ref must be a string")
		case err != nil:
			im.fail(rp, "$ref", err.Error())
		case im.chain[tp] || im.ancestors[tp] > 0:
			im.fail(rp, "$ref", fmt.Sprintf("recursive reference %q: the schema contains itself, and ALTAR schemas are finite trees", ref))
		case !im.spend(rp, 1, 16):
		default:
			switch t := target.(type) {
			case bool:
				if !t {
					im.fail(rp, "$ref", fmt.Sprintf("%q is the schema false, which accepts nothing", ref))
				}
			case map[string]any:
				im.chain[tp] = true
				tm, tpath, tt := im.flatten(t, tp, level+1)
				delete(im.chain, tp)
				touched = append(append(touched, tp), tt...)
				if onlyRef(m) {
					outPath = tpath
				}
				im.merge(out, tm, path)
			default:
				im.fail(rp, "$ref", fmt.Sprintf("%q points at %s, not at a schema", ref, jsonKind(target)))
			}
		}
	}
	if raw, ok := m["allOf"]; ok {
		ap := path + "/allOf"
		arr, isArray := asArray(raw)
		if !isArray || len(arr) == 0 {
			im.fail(ap, "allOf", "allOf must be a non-empty array of schemas")
			return out, outPath, touched
		}
		merged := 0
		for i, e := range arr {
			ep := ap + "/" + strconv.Itoa(i)
			switch e := e.(type) {
			case bool:
				if !e {
					im.fail(ep, "allOf", "the schema false accepts nothing, which ALTAR cannot represent")
				}
			case map[string]any:
				if !im.spend(ep, 1, 16) {
					return out, outPath, touched
				}
				em, _, et := im.flatten(e, ep, level+1)
				touched = append(touched, et...)
				im.merge(out, em, ep)
				merged++
			default:
				im.fail(ep, "allOf", fmt.Sprintf("an allOf member must be a schema, not %s", jsonKind(e)))
			}
		}
		if merged > 1 {
			im.warn(ap, "allOf", fmt.Sprintf("%d schemas merged into one, best effort: where they disagree on pattern, format or multipleOf the first wins, "+
				"and additionalProperties applies to the merged properties", merged))
		}
	}
	return out, outPath, touched
}

// onlyRef reports whether m is a bare reference: nothing beside $ref but
// keywords that change nothing.
func onlyRef(m map[string]any) bool {
	for k := range m {
		if k != "$ref" && k != "$comment" && k != "$schema" && k != "$id" && k != "$defs" && k != "definitions" {
			return false
		}
	}
	return true
}

// normalize copies m without $ref and allOf, with draft-04's boolean
// exclusive bounds turned into draft-06 numbers and const folded into enum.
func (im *importer) normalize(m map[string]any, path string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != "$ref" && k != "allOf" {
			out[k] = v
		}
	}
	im.spend(path, 0, 16*len(m))
	for _, b := range [][2]string{{"exclusiveMinimum", "minimum"}, {"exclusiveMaximum", "maximum"}} {
		excl, bound := b[0], b[1]
		flag, isBool := out[excl].(bool)
		if !isBool {
			continue
		}
		delete(out, excl)
		switch v, ok := out[bound]; {
		case flag && ok:
			out[excl] = v
			delete(out, bound)
		case flag:
			im.warn(path+"/"+excl, excl, "true without "+bound+" has no effect; ignored")
		}
	}
	if c, ok := out["const"]; ok {
		delete(out, "const")
		e, hasEnum := out["enum"]
		arr, isArray := asArray(e)
		switch {
		case !hasEnum:
			out["enum"] = constValue{c}
		case isArray:
			kept := slices.DeleteFunc(slices.Clone(arr), func(x any) bool { return !jsonEqual(x, c) })
			if len(kept) == 0 {
				im.fail(path+"/const", "const", "the const value is not among the enum values, so nothing is accepted")
			}
			out["enum"] = kept
		}
	}
	return out
}

// merge merges src into dst (both flattened) as allOf would: the types
// intersect, bounds take the stricter value, required lists and properties
// unite (a property in both becomes an allOf of the two), enums intersect,
// and for annotations dst wins. dst is modified; src is not.
func (im *importer) merge(dst, src map[string]any, path string) {
	im.spend(path, 0, 16*len(src))
	im.mergeType(dst, src, path)
	for _, k := range sortedKeys(src) {
		sv := src[k]
		dv, ok := dst[k]
		if k == "type" || k == "nullable" {
			continue
		}
		if !ok {
			dst[k] = sv
			continue
		}
		switch k {
		case "required":
			da, _ := asArray(dv)
			sa, _ := asArray(sv)
			u := slices.Clone(da)
			for _, x := range sa {
				if !slices.ContainsFunc(u, func(y any) bool { return jsonEqual(x, y) }) {
					u = append(u, x)
				}
			}
			dst[k] = u
		case "properties":
			dp, dok := dv.(map[string]any)
			sp, sok := sv.(map[string]any)
			if !dok || !sok {
				continue // import reports the malformed one
			}
			u := make(map[string]any, len(dp)+len(sp))
			for name, s := range dp {
				u[name] = s
			}
			for name, s := range sp {
				if d, both := u[name]; both {
					u[name] = map[string]any{"allOf": []any{d, s}}
				} else {
					u[name] = s
				}
			}
			im.spend(path, 0, 16*len(u))
			dst[k] = u
		case "items":
			if isSchemaValue(dv) && isSchemaValue(sv) {
				dst[k] = map[string]any{"allOf": []any{dv, sv}}
			}
		case "additionalProperties":
			switch {
			case dv == false || sv == false:
				dst[k] = false
			case dv == true:
				dst[k] = sv
			case sv == true:
			default:
				dst[k] = map[string]any{"allOf": []any{dv, sv}}
			}
		case "minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "x-altar-min-bytes":
			if d, err := toFloat(dv); err == nil {
				if s, err := toFloat(sv); err == nil && s > d {
					dst[k] = sv
				}
			}
		case "maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "x-altar-max-bytes":
			if d, err := toFloat(dv); err == nil {
				if s, err := toFloat(sv); err == nil && s < d {
					dst[k] = sv
				}
			}
		case "uniqueItems", "writeOnly", "x-altar-sensitive":
			dst[k] = dv == true || sv == true
		case "enum":
			da, dok := enumValues(dv)
			sa, sok := enumValues(sv)
			if !dok || !sok {
				continue
			}
			kept := slices.DeleteFunc(slices.Clone(da), func(x any) bool {
				return !slices.ContainsFunc(sa, func(y any) bool { return jsonEqual(x, y) })
			})
			if len(kept) == 0 {
				im.fail(path, "enum", "allOf members' enums have no value in common, so nothing is accepted")
			}
			dst[k] = kept
		case "anyOf", "oneOf":
			im.fail(path, k, "two "+k+" lists in one allOf cannot be combined")
		case "pattern", "format", "multipleOf", "contentEncoding":
			if !jsonEqual(dv, sv) {
				im.warn(path, k, fmt.Sprintf("conflicting values %v and %v; kept the first", dv, sv))
			}
		}
	}
}

// mergeType intersects the types of dst and src (OpenAPI's nullable counted
// as "null"), an integer being a number.
func (im *importer) mergeType(dst, src map[string]any, path string) {
	st, sok := typeSet(src)
	if !sok {
		return
	}
	dt, dok := typeSet(dst)
	if !dok {
		dst["type"] = anyList(st)
		delete(dst, "nullable")
		return
	}
	var both []string
	add := func(s string) {
		if !slices.Contains(both, s) {
			both = append(both, s)
		}
	}
	for _, d := range dt {
		switch {
		case slices.Contains(st, d):
			add(d)
		case d == "integer" && slices.Contains(st, "number"), d == "number" && slices.Contains(st, "integer"):
			add("integer")
		}
	}
	if len(both) == 0 {
		im.fail(path, "type", fmt.Sprintf("allOf members' types %v and %v have nothing in common", dt, st))
		return
	}
	dst["type"] = anyList(both)
	delete(dst, "nullable")
}

// typeSet reads a well-formed "type", with nullable: true adding "null".
func typeSet(m map[string]any) ([]string, bool) {
	var names []string
	switch x := m["type"].(type) {
	case string:
		names = []string{x}
	case []string:
		names = slices.Clone(x)
	case []any:
		for _, v := range x {
			s, ok := v.(string)
			if !ok {
				return nil, false
			}
			names = append(names, s)
		}
	default:
		return nil, false
	}
	if m["nullable"] == true && !slices.Contains(names, "null") {
		names = append(names, "null")
	}
	return names, len(names) > 0
}

func anyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func enumValues(v any) ([]any, bool) {
	if c, ok := v.(constValue); ok {
		return []any{c.v}, true
	}
	return asArray(v)
}

func isSchemaValue(v any) bool {
	switch v.(type) {
	case bool, map[string]any:
		return true
	}
	return false
}

// jsonEqual compares two decoded JSON values as JSON Schema does: numbers by
// value (1 equals 1.0), arrays and objects member by member.
func jsonEqual(a, b any) bool {
	if ra, ok := toRat(a); ok {
		rb, ok := toRat(b)
		return ok && ra.Cmp(rb) == 0
	}
	if aa, ok := asArray(a); ok {
		ba, ok := asArray(b)
		return ok && slices.EqualFunc(aa, ba, jsonEqual)
	}
	if am, ok := a.(map[string]any); ok {
		bm, ok := b.(map[string]any)
		if !ok || len(am) != len(bm) {
			return false
		}
		for k, av := range am {
			if bv, ok := bm[k]; !ok || !jsonEqual(av, bv) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// toRat reads a JSON number exactly.
func toRat(v any) (*big.Rat, bool) {
	switch x := v.(type) {
	case json.Number:
		// An exponent far beyond float64's would make big.Rat huge: compare
		// such numbers as float64.
		if i := strings.IndexAny(string(x), "eE"); i < 0 || len(x)-i <= 4 {
			return new(big.Rat).SetString(string(x))
		}
	case int64:
		return new(big.Rat).SetInt64(x), true
	case uint64:
		return new(big.Rat).SetUint64(x), true
	}
	f, err := toFloat(v)
	if err != nil {
		return nil, false
	}
	return new(big.Rat).SetFloat64(f), true
}

// lookupRef resolves a local reference ("#", "#/$defs/x",
// "#/definitions/x", any "#/json/pointer") against the document root. It
// returns the target and its JSON pointer.
func (im *importer) lookupRef(ref string) (any, string, error) {
	frag, local := strings.CutPrefix(ref, "#")
	if !local {
		return nil, "", fmt.Errorf("remote reference %q is not supported: only references inside the document (#/$defs/...) are", ref)
	}
	ptr, err := url.PathUnescape(frag)
	if err != nil {
		return nil, "", fmt.Errorf("reference %q is not a valid URI fragment", ref)
	}
	if ptr != "" && !strings.HasPrefix(ptr, "/") {
		return nil, "", fmt.Errorf("anchor reference %q is not supported: use a JSON pointer (#/$defs/...)", ref)
	}
	target, err := resolvePointer(im.root, ptr)
	if err != nil {
		return nil, "", fmt.Errorf("reference %q: %v", ref, err)
	}
	return target, ptr, nil
}

// resolvePointer walks a JSON pointer (RFC 6901) from root.
func resolvePointer(root any, ptr string) (any, error) {
	if ptr == "" {
		return root, nil
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, errors.New("a JSON pointer starts with /")
	}
	node := root
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch n := node.(type) {
		case map[string]any:
			next, ok := n[tok]
			if !ok {
				return nil, fmt.Errorf("%q not found", tok)
			}
			node = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n) || (len(tok) > 1 && tok[0] == '0') {
				return nil, fmt.Errorf("index %q not found", tok)
			}
			node = n[i]
		default:
			return nil, fmt.Errorf("%q not found", tok)
		}
	}
	return node, nil
}
