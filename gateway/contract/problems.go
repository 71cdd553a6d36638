package contract

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Position is a place in a manifest file. Line and Column count from 1; they
// are 0 for a manifest that did not come from a file (FromProto).
type Position struct {
	File   string
	Line   int
	Column int
}

// String renders the position as "file:line:col", leaving out what it lacks.
func (p Position) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Column > 0 {
			fmt.Fprintf(&b, ":%d", p.Column)
		}
	}
	return b.String()
}

// Rules a manifest check reports in FieldError.Rule, beside the schema rules
// of schema.Compile ("type", "range", "pattern", "enum", "default",
// "required", "property_ordering", "applicability", "depth", ...), which are
// passed through unchanged.
const (
	RuleSyntax          = "syntax"           // not well-formed YAML or JSON
	RuleUnknownKey      = "unknown_key"      // a key the format does not define
	RuleKind            = "kind"             // a node of the wrong kind (a string where a mapping belongs)
	RuleValue           = "value"            // a scalar that cannot be represented exactly
	RuleAlias           = "alias"            // an anchor, alias or merge key that cannot be resolved
	RuleLimit           = "limit"            // a size, depth or count limit
	RuleFile            = "file"             // a file that cannot be read
	RuleRequired        = "required"         // a required key is missing
	RuleManifestVersion = "manifest_version" // an unsupported manifest_version
	RuleName            = "name"             // a contract name breaking ValidateName
	RulePropertyName    = "property_name"    // a property name breaking ValidatePropertyName
	RuleVersion         = "version"          // a contract version breaking ValidateVersion
	RuleDuplicate       = "duplicate"        // a contract defined twice (same name and version)
	RuleParameters      = "parameters"       // parameters that are not an object schema
	RuleRange           = "range"            // a number outside its allowed range
	RuleScheme          = "scheme"           // an empty security scheme or scope
	RuleFlags           = "flags"            // contradictory flags
	RuleCapability      = "capability"       // an unknown or malformed required capability
	RuleComplianceLevel = "compliance_level" // a contract needing more than its compliance level
)

// problems collects the field errors of one load.
type problems struct {
	fields []*altarv1.FieldError
	// seen is every path with a problem of an earlier phase (decoding), so
	// that a later phase (checks, Compile) does not report it twice.
	seen map[string]bool
}

func (p *problems) add(pos Position, path, rule, format string, args ...any) {
	p.fields = append(p.fields, &altarv1.FieldError{
		Path:    path,
		Rule:    rule,
		Message: fmt.Sprintf(format, args...),
		File:    pos.File,
		Line:    uint32(max(pos.Line, 0)),
		Column:  uint32(max(pos.Column, 0)),
	})
}

// seal marks every path reported so far, ending a phase.
func (p *problems) seal() {
	if p.seen == nil {
		p.seen = make(map[string]bool, len(p.fields))
	}
	for _, f := range p.fields {
		p.seen[f.GetPath()] = true
	}
}

// reported reports whether an earlier phase already has a problem at path.
func (p *problems) reported(path string) bool { return p.seen[path] }

// sortFields orders field errors by file, line and column, keeping the order
// of those without a position.
func sortFields(fields []*altarv1.FieldError) {
	slices.SortStableFunc(fields, func(a, b *altarv1.FieldError) int {
		return cmp.Or(
			cmp.Compare(a.GetFile(), b.GetFile()),
			cmp.Compare(a.GetLine(), b.GetLine()),
			cmp.Compare(a.GetColumn(), b.GetColumn()),
		)
	})
}

// manifestError wraps field errors into the one error a load returns.
func manifestError(what string, fields []*altarv1.FieldError) *altarerr.Error {
	n := len(fields)
	noun := "problems"
	if n == 1 {
		noun = "problem"
	}
	err := altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_MANIFEST, "%s: %d %s", what, n, noun)
	err.Fields = fields
	return err
}

// Paths. A path names a place in a manifest the way a reader would:
// "contracts[0].parameters.properties.age.minimum". Keys that are not plain
// identifiers are quoted: `metadata["team.owner"]`.

// joinKey appends a mapping key to a path.
func joinKey(base, key string) string {
	if !plainKey(key) {
		return base + "[" + strconv.Quote(key) + "]"
	}
	if base == "" {
		return key
	}
	return base + "." + key
}

// joinIndex appends a sequence index to a path.
func joinIndex(base string, i int) string {
	return base + "[" + strconv.Itoa(i) + "]"
}

func plainKey(key string) bool {
	if key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == '$':
		case i > 0 && (c >= '0' && c <= '9' || c == '-'):
		default:
			return false
		}
	}
	return true
}
