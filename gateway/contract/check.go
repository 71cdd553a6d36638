package contract

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// checker runs the manifest's rules on a ToolManifest, decoded from a file
// or received as a proto, and compiles its schemas.
type checker struct {
	file string
	p    *problems
	// pos is the position of a path in the file; nil for a proto.
	pos map[string]Position
}

// at is the position of the first of paths the file has.
func (c *checker) at(paths ...string) Position {
	for _, p := range paths {
		if pos, ok := c.pos[p]; ok {
			return pos
		}
	}
	return Position{File: c.file}
}

// fail reports a problem at path, placed at the first of path and its
// fallbacks that the file has, unless decoding already reported path.
func (c *checker) fail(path string, fallbacks []string, rule, format string, args ...any) {
	if c.p.reported(path) {
		return
	}
	c.p.add(c.at(append([]string{path}, fallbacks...)...), path, rule, format, args...)
}

func (c *checker) manifest(m *altarv1.ToolManifest) []*Contract {
	switch v := m.GetManifestVersion(); {
	case v == "":
		c.fail("manifest_version", []string{""}, RuleRequired, "manifest_version is required: write manifest_version: %q", ManifestVersion)
	case v != ManifestVersion:
		c.fail("manifest_version", nil, RuleManifestVersion, "manifest_version %s is not supported; the only version is %q", quoteShort(v), ManifestVersion)
	}
	c.metadata(m.GetGlobalMetadata(), "global_metadata")
	if len(m.GetContracts()) == 0 {
		c.fail("contracts", []string{""}, RuleRequired, "a manifest declares at least one contract")
	}
	out := make([]*Contract, 0, len(m.GetContracts()))
	first := make(map[string]*Contract, len(m.GetContracts()))
	for i, ct := range m.GetContracts() {
		path := joinIndex("contracts", i)
		if ct == nil {
			c.fail(path, nil, RuleRequired, "the contract is missing")
			continue
		}
		if c.p.reported(path) {
			continue // not a contract at all (a string, say): nothing more to say
		}
		con := c.contract(ct, path)
		out = append(out, con)
		if ct.GetName() == "" || ct.GetVersion() == "" {
			continue
		}
		key := ct.GetName() + "@" + ct.GetVersion()
		if prev, dup := first[key]; dup {
			c.fail(path, nil, RuleDuplicate, "contract %s version %s is defined twice; the first is at %s",
				strconv.Quote(ct.GetName()), strconv.Quote(ct.GetVersion()), prev.where())
			continue
		}
		first[key] = con
	}
	return out
}

func (c *checker) contract(ct *altarv1.ToolContract, base string) *Contract {
	con := &Contract{Proto: ct, Pos: c.at(base), path: base}
	up := []string{base}
	field := func(name string) string { return joinKey(base, name) }

	switch err := ValidateName(ct.GetName()); {
	case ct.GetName() == "":
		c.fail(field("name"), up, RuleRequired, "name is required")
	case err != nil:
		c.fail(field("name"), up, RuleName, "%s", reason(err))
	}
	switch err := ValidateVersion(ct.GetVersion()); {
	case ct.GetVersion() == "":
		c.fail(field("version"), up, RuleRequired, "version is required (a semantic version such as \"1.0.0\")")
	case err != nil:
		c.fail(field("version"), up, RuleVersion, "%s", reason(err))
	}

	params := ct.GetParameters()
	if params == nil {
		params = &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_OBJECT}
	} else if t := params.GetType(); t != altarv1.AltarType_ALTAR_TYPE_UNSPECIFIED && t != altarv1.AltarType_ALTAR_TYPE_OBJECT {
		c.fail(joinKey(field("parameters"), "type"), []string{field("parameters")}, RuleParameters,
			"parameters must be a schema of type object (the named arguments), not %s", schema.TypeName(t))
	}
	con.Params = c.compile(params, field("parameters"))
	result := ct.GetReturnType()
	if result == nil {
		result = &altarv1.ParameterSchema{Type: altarv1.AltarType_ALTAR_TYPE_ANY}
	}
	con.Result = c.compile(result, field("return_type"))
	c.propertyNames(ct.GetParameters(), field("parameters"), 1)
	c.propertyNames(ct.GetReturnType(), field("return_type"), 1)

	for i, sr := range ct.GetSecurityRequirements() {
		p := joinIndex(field("security_requirements"), i)
		if sr.GetScheme() == "" {
			c.fail(joinKey(p, "scheme"), []string{p}, RuleScheme, "scheme is required (such as api_key, bearer, oauth2, role or scope)")
		}
		for j, scope := range sr.GetScopes() {
			if strings.TrimSpace(scope) == "" {
				c.fail(joinIndex(joinKey(p, "scopes"), j), []string{p}, RuleScheme, "scope is empty")
			}
		}
	}

	flags := ct.GetFlags()
	flagPath := func(name string) string { return joinKey(field("flags"), name) }
	if flags.GetReadOnly() && flags.GetDestructive() {
		c.fail(flagPath("destructive"), up, RuleFlags, "a tool cannot be both read_only and destructive")
	}
	if flags.GetDeprecationMessage() != "" && !flags.GetDeprecated() {
		c.fail(flagPath("deprecation_message"), up, RuleFlags, "deprecation_message is set but deprecated is not true")
	}

	level := ct.GetComplianceLevel()
	if level < altarv1.ComplianceLevel_COMPLIANCE_LEVEL_UNSPECIFIED || level > altarv1.ComplianceLevel_COMPLIANCE_LEVEL_3 {
		c.fail(field("compliance_level"), up, RuleRange, "compliance_level must be 1, 2 or 3, not %d", int32(level))
	} else if level == altarv1.ComplianceLevel_COMPLIANCE_LEVEL_1 && ct.GetSupportsStreaming() {
		c.fail(field("supports_streaming"), up, RuleComplianceLevel, "streaming is a Level 2 feature; a streaming contract needs compliance_level 2 or 3, not 1")
	}
	if ct.GetTimeoutMs() < 0 {
		c.fail(field("timeout_ms"), up, RuleRange, "timeout_ms must not be negative (0 means the Host's default), not %d", ct.GetTimeoutMs())
	}
	switch ttl := ct.GetCacheTtlMs(); {
	case ttl < 0:
		c.fail(field("cache_ttl_ms"), up, RuleRange, "cache_ttl_ms must not be negative, not %d", ttl)
	case ttl > 0 && !(flags.GetCacheable() && flags.GetIdempotent()):
		c.fail(field("cache_ttl_ms"), up, RuleFlags, "cache_ttl_ms has no effect unless flags.cacheable and flags.idempotent are both true")
	}

	if err := altarv1.ValidateCapabilities(ct.GetRequiredCapabilities()); err != nil {
		var ce *altarv1.CapabilitiesError
		if errors.As(err, &ce) {
			for _, prob := range ce.Problems {
				p := joinIndex(field("required_capabilities"), prob.Index)
				c.fail(p, []string{field("required_capabilities"), base}, RuleCapability, "%s: %s", strconv.Quote(prob.Capability), prob.Reason)
			}
		} else {
			c.fail(field("required_capabilities"), up, RuleCapability, "%v", err)
		}
	}
	c.metadata(ct.GetMetadata(), field("metadata"))
	return con
}

func (c *checker) metadata(m map[string]string, path string) {
	if _, ok := m[""]; ok {
		c.fail(joinKey(path, ""), []string{path}, RuleRequired, "a metadata key is empty")
	}
}

// propertyNames checks the property names of ps and the schemas within it.
// Depth is bounded: schema.Compile reports schemas nested too deep.
func (c *checker) propertyNames(ps *altarv1.ParameterSchema, path string, depth int) {
	if ps == nil || depth > schema.DefaultMaxDepth+1 {
		return
	}
	props := joinKey(path, "properties")
	names := make([]string, 0, len(ps.GetProperties()))
	for name := range ps.GetProperties() {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		p := joinKey(props, name)
		if err := ValidatePropertyName(name); err != nil && name != "" {
			c.fail(p, []string{props, path}, RulePropertyName, "%s", reason(err))
		}
		c.propertyNames(ps.GetProperties()[name], p, depth+1)
	}
	c.propertyNames(ps.GetItems(), joinKey(path, "items"), depth+1)
	for i, alt := range ps.GetAnyOf() {
		c.propertyNames(alt, joinIndex(joinKey(path, "any_of"), i), depth+1)
	}
}

// compile compiles a schema, reporting schema.Compile's problems at their
// places in the manifest. It returns nil when there were problems.
func (c *checker) compile(ps *altarv1.ParameterSchema, base string) *schema.Schema {
	s, err := schema.Compile(ps)
	if err == nil {
		return s
	}
	var ae *altarerr.Error
	if !errors.As(err, &ae) || len(ae.Fields) == 0 {
		c.fail(base, nil, RuleValue, "%v", err)
		return nil
	}
	for _, f := range ae.Fields {
		paths := schemaPaths(base, ps, f.GetPath())
		if slices.ContainsFunc(paths, c.p.reported) {
			continue // decoding said it first (an unknown type name, say)
		}
		c.p.add(c.at(paths...), paths[0], f.GetRule(), "%s", f.GetMessage())
	}
	return nil
}

// schemaPaths turns a JSON pointer into a schema (schema.Compile's
// "/properties/a/enum/2") into manifest paths, deepest first and down to
// base: "….properties.a.enum[2]", "….properties.a.enum", "….properties.a",
// "….properties", base. It walks the schema beside the pointer, so that it
// knows which segments are indexes (enum, any_of, arrays in a default) and
// which are names (properties, objects in a default).
func schemaPaths(base string, ps *altarv1.ParameterSchema, pointer string) []string {
	paths := []string{base}
	if pointer == "" || pointer == "/" {
		return paths
	}
	segs := strings.Split(strings.TrimPrefix(pointer, "/"), "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	cur := base
	push := func(p string) { cur = p; paths = append(paths, p) }
	// index moves to the next segment when it is an index into a list of n.
	index := func(i int, n int) (int, bool) {
		if i+1 >= len(segs) {
			return 0, false
		}
		idx, err := strconv.Atoi(segs[i+1])
		return idx, err == nil && idx >= 0 && (n < 0 || idx < n)
	}
	var (
		val     *altarv1.Value
		inValue bool
	)
	for i := 0; i < len(segs); i++ {
		seg := segs[i]
		if inValue {
			switch k := val.GetKind().(type) {
			case *altarv1.Value_ArrayValue:
				if idx, err := strconv.Atoi(seg); err == nil && idx >= 0 {
					push(joinIndex(cur, idx))
					val = nil
					if idx < len(k.ArrayValue.GetItems()) {
						val = k.ArrayValue.GetItems()[idx]
					}
					continue
				}
				push(joinKey(cur, seg))
				val = nil
			case *altarv1.Value_ObjectValue:
				push(joinKey(cur, seg))
				val = k.ObjectValue.GetFields()[seg]
			default:
				push(joinKey(cur, seg))
				val = nil
			}
			continue
		}
		switch seg {
		case "properties":
			push(joinKey(cur, seg))
			if i+1 < len(segs) {
				i++
				push(joinKey(cur, segs[i]))
				ps = ps.GetProperties()[segs[i]]
			}
		case "items":
			push(joinKey(cur, seg))
			ps = ps.GetItems()
		case "any_of", "enum", "required", "property_ordering":
			push(joinKey(cur, seg))
			n := -1
			if seg == "any_of" {
				n = len(ps.GetAnyOf())
			} else if seg == "enum" {
				n = len(ps.GetEnum())
			}
			idx, ok := index(i, n)
			if !ok {
				continue
			}
			i++
			push(joinIndex(cur, idx))
			switch seg {
			case "any_of":
				ps = ps.GetAnyOf()[idx]
			case "enum":
				val, inValue = ps.GetEnum()[idx], true
			}
		case "default":
			push(joinKey(cur, seg))
			val, inValue = ps.GetDefault(), true
		default:
			push(joinKey(cur, seg))
		}
	}
	slices.Reverse(paths)
	return paths
}
