package mcp

import (
	"encoding/base64"

	mcpproto "github.com/mark3labs/mcp-go/mcp"

	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// A tool bridged from an MCP server (bridges/mcp) answers with the MCP
// result as a Value: {"content": [blocks], "structuredContent"?}, each block
// an object with its "type" (text, image, audio, resource_link, resource),
// or, for a tool with an output schema, its structuredContent alone. The
// facade hands such a result back to an MCP client as the content blocks
// it was, so that ALTAR in front of an MCP server answers what the server
// answered (not the Value as JSON text).

// Metadata keys bridges/mcp sets on the contracts of bridged tools.
const (
	metaBridgedServer     = "mcp.server"
	metaBridgedStructured = "mcp.structured"
)

// bridged reports whether the contract is a tool bridged from an MCP
// server whose results carry MCP content blocks.
func bridged(c *altarv1.ToolContract) bool {
	md := c.GetMetadata()
	return md[metaBridgedServer] != "" && md[metaBridgedStructured] != "true"
}

// bridgedResult turns a bridged tool's result Value back into MCP content.
// It reports false when the Value is not in the bridge's shape (a contract
// whose metadata claims a bridge but whose runtime answered otherwise); the
// caller then answers with the Value as JSON.
func bridgedResult(v *altarv1.Value, invocationID string) (*mcpproto.CallToolResult, bool) {
	fields := v.GetObjectValue().GetFields()
	blocks := fields["content"].GetArrayValue()
	if fields == nil || blocks == nil {
		return nil, false
	}
	r := &mcpproto.CallToolResult{Content: make([]mcpproto.Content, 0, len(blocks.GetItems()))}
	for _, item := range blocks.GetItems() {
		c, ok := contentBlock(item.GetObjectValue().GetFields())
		if !ok {
			return nil, false
		}
		r.Content = append(r.Content, c)
	}
	if sc := fields["structuredContent"]; sc != nil {
		raw, err := schema.MarshalJSON(sc)
		if err != nil {
			return nil, false
		}
		r.RawStructuredContent = raw
	}
	r.Meta = &mcpproto.Meta{AdditionalFields: map[string]any{"altar/invocation_id": invocationID}}
	return r, true
}

// contentBlock is the inverse of bridges/mcp's mapping of one block.
func contentBlock(f map[string]*altarv1.Value) (mcpproto.Content, bool) {
	str := func(k string) string { return f[k].GetStringValue() }
	b64 := func(k string) (string, bool) {
		b, ok := f[k].GetKind().(*altarv1.Value_BytesValue)
		if !ok {
			return "", false
		}
		return base64.StdEncoding.EncodeToString(b.BytesValue), true
	}
	switch str("type") {
	case "text":
		return mcpproto.NewTextContent(str("text")), true
	case "image":
		data, ok := b64("data")
		return mcpproto.ImageContent{Type: "image", Data: data, MIMEType: str("mimeType")}, ok
	case "audio":
		data, ok := b64("data")
		return mcpproto.AudioContent{Type: "audio", Data: data, MIMEType: str("mimeType")}, ok
	case "resource_link":
		return mcpproto.ResourceLink{Type: "resource_link", URI: str("uri"), Name: str("name"), Title: str("title"),
			Description: str("description"), MIMEType: str("mimeType")}, true
	case "resource":
		if _, isText := f["text"]; isText {
			return mcpproto.EmbeddedResource{Type: "resource", Resource: mcpproto.TextResourceContents{
				URI: str("uri"), MIMEType: str("mimeType"), Text: str("text")}}, true
		}
		blob, ok := b64("blob")
		return mcpproto.EmbeddedResource{Type: "resource", Resource: mcpproto.BlobResourceContents{
			URI: str("uri"), MIMEType: str("mimeType"), Blob: blob}}, ok
	}
	return nil, false
}
