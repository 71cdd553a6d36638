package mcp

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/schema"
	"github.com/altar-gateway/altar/gateway/schema/jsonschema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Limits bound what an MCP server may send. A breach refuses the tool or
// the result (never a crash or an unbounded allocation).
type Limits struct {
	// MaxTools is the most tools one server may list.
	MaxTools int
	// MaxPages is the most tools/list pages followed.
	MaxPages int
	// MaxDescriptionBytes is the longest tool title or description.
	MaxDescriptionBytes int
	// MaxSchemaBytes is the largest input or output schema.
	MaxSchemaBytes int
	// MaxResultBytes bounds one result: its text, decoded binary data and
	// structured content together.
	MaxResultBytes int
	// MaxContentBlocks is the most content blocks in one result.
	MaxContentBlocks int
}

// DefaultLimits are generous for real servers.
func DefaultLimits() Limits {
	return Limits{MaxTools: 1000, MaxPages: 100, MaxDescriptionBytes: 64 << 10, MaxSchemaBytes: 1 << 20,
		MaxResultBytes: 16 << 20, MaxContentBlocks: 1024}
}

func (l Limits) orDefault() Limits {
	d := DefaultLimits()
	or := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	or(&l.MaxTools, d.MaxTools)
	or(&l.MaxPages, d.MaxPages)
	or(&l.MaxDescriptionBytes, d.MaxDescriptionBytes)
	or(&l.MaxSchemaBytes, d.MaxSchemaBytes)
	or(&l.MaxResultBytes, d.MaxResultBytes)
	or(&l.MaxContentBlocks, d.MaxContentBlocks)
	return l
}

// Definition is what a tool's pin covers: everything that says what the
// tool means. Its JSON fields are canonical (keys sorted, numbers as
// written), so equal definitions hash equally.
type Definition struct {
	Name         string          `json:"name"`
	Title        string          `json:"title,omitempty"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"inputSchema"`
	OutputSchema json.RawMessage `json:"outputSchema,omitempty"`
	Annotations  json.RawMessage `json:"annotations,omitempty"`
}

// SHA256 is the hex SHA-256 of the definition's canonical JSON.
func (d Definition) SHA256() string {
	data, _ := json.Marshal(d) // fields are canonical JSON already
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// definitionOf reads a listed tool into its Definition, refusing what
// breaks the limits.
func definitionOf(t mcp.Tool, lim Limits) (Definition, error) {
	d := Definition{Name: t.Name, Title: t.Title, Description: t.Description}
	if d.Title == "" {
		d.Title = t.Annotations.Title
	}
	if len(d.Title) > lim.MaxDescriptionBytes || len(d.Description) > lim.MaxDescriptionBytes {
		return d, fmt.Errorf("tool %s: the title or description is longer than %d bytes", quote(t.Name), lim.MaxDescriptionBytes)
	}
	if !utf8.ValidString(d.Title) || !utf8.ValidString(d.Description) {
		return d, fmt.Errorf("tool %s: the title or description is not UTF-8", quote(t.Name))
	}
	in := t.RawInputSchema
	if in == nil {
		var err error
		if in, err = json.Marshal(t.InputSchema); err != nil {
			return d, fmt.Errorf("tool %s: inputSchema: %w", quote(t.Name), err)
		}
	}
	var err error
	if d.InputSchema, err = canonical(in, lim.MaxSchemaBytes); err != nil {
		return d, fmt.Errorf("tool %s: inputSchema: %w", quote(t.Name), err)
	}
	out := t.RawOutputSchema
	if out == nil && t.OutputSchema.Type != "" {
		if out, err = json.Marshal(t.OutputSchema); err != nil {
			return d, fmt.Errorf("tool %s: outputSchema: %w", quote(t.Name), err)
		}
	}
	if out != nil {
		if d.OutputSchema, err = canonical(out, lim.MaxSchemaBytes); err != nil {
			return d, fmt.Errorf("tool %s: outputSchema: %w", quote(t.Name), err)
		}
	}
	a := t.Annotations
	a.Title = "" // kept as the definition's title
	if a != (mcp.ToolAnnotation{}) {
		raw, _ := json.Marshal(a)
		d.Annotations, _ = canonical(raw, lim.MaxSchemaBytes)
	}
	return d, nil
}

// canonical re-encodes a JSON document with sorted keys and numbers kept as
// written.
func canonical(raw []byte, maxBytes int) (json.RawMessage, error) {
	if len(raw) > maxBytes {
		return nil, fmt.Errorf("%d bytes; at most %d are allowed", len(raw), maxBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// ContractName is the contract name of a server's tool.
func ContractName(prefix, tool string) string { return prefix + PrefixSeparator + tool }

// checkToolName allows what a contract name allows after a prefix: letters,
// digits, "_", "-" and ".", the whole name at most 64 characters.
func checkToolName(prefix, name string) error {
	if name == "" {
		return fmt.Errorf("a tool has no name")
	}
	if full := ContractName(prefix, name); len(full) > 64 {
		return fmt.Errorf("tool %s: the contract name %s is longer than 64 characters", quote(name), quote(full))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("tool %s: the name has %q at offset %d; only letters, digits, \"_\", \"-\" and \".\" are allowed", quote(name), c, i)
		}
	}
	return nil
}

// contractOf turns a tool's definition into the ALTAR contract served for
// it. Warnings name what the schemas' import could not represent.
func contractOf(srv Server, d Definition) (*altarv1.ToolContract, []string, error) {
	if err := checkToolName(srv.prefix(), d.Name); err != nil {
		return nil, nil, err
	}
	var warnings []string
	params, ws, err := jsonschema.Import(d.InputSchema)
	if err != nil {
		return nil, nil, fmt.Errorf("tool %s: inputSchema: %w", quote(d.Name), err)
	}
	for _, w := range ws {
		warnings = append(warnings, "inputSchema"+w.String())
	}
	if params.GetType() != altarv1.AltarType_ALTAR_TYPE_OBJECT {
		return nil, nil, fmt.Errorf("tool %s: inputSchema is not an object schema", quote(d.Name))
	}
	if _, err := schema.Compile(params); err != nil {
		return nil, nil, fmt.Errorf("tool %s: inputSchema: %w", quote(d.Name), err)
	}
	c := &altarv1.ToolContract{
		Name:              ContractName(srv.prefix(), d.Name),
		Version:           "1.0.0",
		Description:       d.Description,
		Parameters:        params,
		SupportsStreaming: true,
		ComplianceLevel:   altarv1.ComplianceLevel_COMPLIANCE_LEVEL_2,
		Metadata: map[string]string{
			"mcp.server": srv.Name,
			"mcp.tool":   d.Name,
			"mcp.sha256": d.SHA256(),
		},
	}
	if c.Description == "" {
		c.Description = d.Title
	}
	if d.Title != "" {
		c.Metadata["mcp.title"] = d.Title
	}
	if len(d.OutputSchema) > 0 {
		ret, ws, err := jsonschema.Import(d.OutputSchema)
		if err != nil {
			return nil, nil, fmt.Errorf("tool %s: outputSchema: %w", quote(d.Name), err)
		}
		for _, w := range ws {
			warnings = append(warnings, "outputSchema"+w.String())
		}
		if _, err := schema.Compile(ret); err != nil {
			return nil, nil, fmt.Errorf("tool %s: outputSchema: %w", quote(d.Name), err)
		}
		c.ReturnType = ret
		c.Metadata["mcp.structured"] = "true"
	}
	var a mcp.ToolAnnotation
	if len(d.Annotations) > 0 {
		_ = json.Unmarshal(d.Annotations, &a)
	}
	is := func(p *bool, def bool) bool {
		if p == nil {
			return def
		}
		return *p
	}
	readOnly := is(a.ReadOnlyHint, false)
	c.Flags = &altarv1.ToolFlags{
		ReadOnly:    readOnly,
		Idempotent:  is(a.IdempotentHint, false),
		Destructive: !readOnly && is(a.DestructiveHint, true),
		OpenWorld:   is(a.OpenWorldHint, true),
	}
	return c, warnings, nil
}

// callResult maps a tools/call result to an ALTAR result: a success with
// its Value, or the tool's own failure (isError). An error means the
// server's answer cannot be trusted (INVALID_RESULT).
func callResult(res *mcp.CallToolResult, structured bool, lim Limits) (*altarv1.ToolResult, error) {
	if res == nil {
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_RESULT, "the MCP server sent no result")
	}
	if res.IsError {
		var texts []string
		n := 0
		for _, c := range res.Content {
			if t, ok := c.(mcp.TextContent); ok && n < 4096 {
				texts = append(texts, t.Text)
				n += len(t.Text)
			}
		}
		msg := strings.Join(texts, "\n")
		if len(msg) > 4096 {
			msg = strings.ToValidUTF8(msg[:4096], "") + "…"
		}
		if msg == "" {
			msg = "the MCP tool reported an error"
		}
		return &altarv1.ToolResult{Status: altarv1.ToolResultStatus_TOOL_RESULT_STATUS_ERROR,
			Error: &altarv1.Error{Code: altarv1.ErrorCode_ERROR_CODE_TOOL_FAILED, Message: msg}}, nil
	}
	v, err := resultValue(res, structured, lim)
	if err != nil {
		return nil, err
	}
	return &altarv1.ToolResult{Status: altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS, Payload: v}, nil
}

// resultValue maps a successful result to its Value (see the package
// documentation).
func resultValue(res *mcp.CallToolResult, structured bool, lim Limits) (*altarv1.Value, error) {
	budget := lim.MaxResultBytes
	spend := func(n int) error {
		if budget -= n; budget < 0 {
			return altarerr.New(altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE,
				"the MCP result is larger than %d bytes", lim.MaxResultBytes)
		}
		return nil
	}
	var sc *altarv1.Value
	if raw := res.RawStructuredContent; len(raw) > 0 && string(raw) != "null" {
		if err := spend(len(raw)); err != nil {
			return nil, err
		}
		v, err := schema.ParseJSON(raw, schema.Limits{MaxBytes: lim.MaxResultBytes, MaxStringBytes: lim.MaxResultBytes})
		if err != nil {
			return nil, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_RESULT, err, "structuredContent")
		}
		sc = v
	} else if res.StructuredContent != nil {
		raw, err := json.Marshal(res.StructuredContent)
		if err != nil {
			return nil, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_RESULT, err, "structuredContent")
		}
		if err := spend(len(raw)); err != nil {
			return nil, err
		}
		if sc, err = schema.ParseJSON(raw, schema.Limits{MaxBytes: lim.MaxResultBytes, MaxStringBytes: lim.MaxResultBytes}); err != nil {
			return nil, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_RESULT, err, "structuredContent")
		}
	}
	if structured {
		if sc == nil {
			return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_RESULT,
				"the tool declares an outputSchema but its result has no structuredContent")
		}
		return sc, nil
	}
	if len(res.Content) > lim.MaxContentBlocks {
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE,
			"the MCP result has %d content blocks; at most %d are allowed", len(res.Content), lim.MaxContentBlocks)
	}
	items := make([]*altarv1.Value, 0, len(res.Content))
	for i, c := range res.Content {
		v, err := contentValue(c, spend)
		if err != nil {
			e := altarerr.From(err)
			e.Message = fmt.Sprintf("content[%d]: %s", i, e.Message)
			return nil, e
		}
		items = append(items, v)
	}
	fields := map[string]*altarv1.Value{"content": schema.Array(items...)}
	if sc != nil {
		fields["structuredContent"] = sc
	}
	return schema.Object(fields), nil
}

// contentValue maps one content block.
func contentValue(c mcp.Content, spend func(int) error) (*altarv1.Value, error) {
	str := func(fields map[string]*altarv1.Value, k, v string) error {
		if v == "" {
			return nil
		}
		if !utf8.ValidString(v) {
			return altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_RESULT, "%s is not UTF-8", k)
		}
		if err := spend(len(v)); err != nil {
			return err
		}
		fields[k] = schema.String(v)
		return nil
	}
	data := func(fields map[string]*altarv1.Value, k, b64 string) error {
		if err := spend(base64.StdEncoding.DecodedLen(len(b64))); err != nil {
			return err
		}
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_RESULT, err, "%s is not base64", k)
		}
		fields[k] = schema.Bytes(b)
		return nil
	}
	f := map[string]*altarv1.Value{}
	var err error
	switch x := c.(type) {
	case mcp.TextContent:
		f["type"] = schema.String("text")
		f["text"] = schema.String("")
		err = str(f, "text", x.Text)
	case mcp.ImageContent:
		f["type"] = schema.String("image")
		if err = data(f, "data", x.Data); err == nil {
			err = str(f, "mimeType", x.MIMEType)
		}
	case mcp.AudioContent:
		f["type"] = schema.String("audio")
		if err = data(f, "data", x.Data); err == nil {
			err = str(f, "mimeType", x.MIMEType)
		}
	case mcp.ResourceLink:
		f["type"] = schema.String("resource_link")
		for _, kv := range [][2]string{{"uri", x.URI}, {"name", x.Name}, {"title", x.Title}, {"description", x.Description}, {"mimeType", x.MIMEType}} {
			if err = str(f, kv[0], kv[1]); err != nil {
				break
			}
		}
	case mcp.EmbeddedResource:
		f["type"] = schema.String("resource")
		switch r := x.Resource.(type) {
		case mcp.TextResourceContents:
			if err = str(f, "uri", r.URI); err == nil {
				if err = str(f, "mimeType", r.MIMEType); err == nil {
					f["text"] = schema.String("")
					err = str(f, "text", r.Text)
				}
			}
		case mcp.BlobResourceContents:
			if err = str(f, "uri", r.URI); err == nil {
				if err = str(f, "mimeType", r.MIMEType); err == nil {
					err = data(f, "blob", r.Blob)
				}
			}
		default:
			err = altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_RESULT, "an embedded resource with neither text nor blob")
		}
	default:
		err = altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_RESULT, "unknown content type %T", c)
	}
	if err != nil {
		return nil, err
	}
	return schema.Object(f), nil
}
