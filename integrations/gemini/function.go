package gemini

import (
	"regexp"
	"strings"

	"google.golang.org/genai"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// functionName is what Gemini accepts as a function's name, parameterName
// what it documents for a parameter's.
var (
	functionName  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$`)
	parameterName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
)

// FunctionDeclaration describes a contract to a Gemini model: its name, its
// description (with a deprecation note when the contract is deprecated), its
// parameters and, from return_type, its response. A contract without
// parameters, or whose parameters object has no properties, declares none
// (Gemini refuses an object schema without properties). Warnings are those of
// ToGeminiSchema, their paths starting "/parameters" or "/return_type".
//
// Errors are *altarerr.Error values with code ERROR_CODE_INVALID_REQUEST: a
// nil contract, a name Gemini refuses, parameters that are not an object
// schema, or a schema ToGeminiSchema refuses.
func FunctionDeclaration(c *altarv1.ToolContract) (*genai.FunctionDeclaration, []Warning, error) {
	if c == nil {
		return nil, nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "no contract to declare")
	}
	if !functionName.MatchString(c.GetName()) {
		return nil, nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST,
			"tool name %q is not a valid Gemini function name (a letter or underscore, then up to 127 letters, digits, _ . : -)", c.GetName()).
			WithField("/name", "name", "not a valid Gemini function name")
	}
	fd := &genai.FunctionDeclaration{Name: c.GetName(), Description: description(c)}
	var warns []Warning
	if p := c.GetParameters(); p != nil {
		if t := p.GetType(); t != altarv1.AltarType_ALTAR_TYPE_OBJECT {
			return nil, nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST,
				"tool %q: parameters must be an object schema, not %s", c.GetName(), strings.ToLower(strings.TrimPrefix(t.String(), "ALTAR_TYPE_"))).
				WithField("/parameters/type", "type", "parameters must be an object schema")
		}
		if len(p.GetProperties()) > 0 {
			s, w, err := ToGeminiSchema(p)
			if err != nil {
				return nil, nil, prefixed(err, "/parameters")
			}
			fd.Parameters = s
			for _, name := range sortedKeys(p.GetProperties()) {
				if !parameterName.MatchString(name) {
					warns = append(warns, Warning{Path: "/parameters/properties/" + escapePointer(name), Keyword: "properties",
						Message: "Gemini documents parameter names as a letter or underscore, then letters, digits or underscores, at most 64 in all"})
				}
			}
			warns = append(warns, prefix(w, "/parameters")...)
		}
	}
	if r := c.GetReturnType(); r != nil {
		s, w, err := ToGeminiSchema(r)
		if err != nil {
			return nil, nil, prefixed(err, "/return_type")
		}
		fd.Response = s
		warns = append(warns, prefix(w, "/return_type")...)
	}
	return fd, warns, nil
}

// description is the contract's description, with a deprecation note.
func description(c *altarv1.ToolContract) string {
	d := c.GetDescription()
	if !c.GetFlags().GetDeprecated() {
		return d
	}
	note := "Deprecated."
	if m := c.GetFlags().GetDeprecationMessage(); m != "" {
		note = "Deprecated: " + m
	}
	if d == "" {
		return note
	}
	return d + "\n\n" + note
}

func prefix(warns []Warning, p string) []Warning {
	for i := range warns {
		warns[i].Path = p + warns[i].Path
	}
	return warns
}

func prefixed(err error, p string) error {
	e := altarerr.From(err)
	for _, f := range e.Fields {
		f.Path = p + f.GetPath()
	}
	return e
}
