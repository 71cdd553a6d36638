package jsonschema

import "fmt"

// Warning reports something Import accepted but could not represent fully
// (a keyword dropped, oneOf treated as anyOf, ...). The schema still imports;
// a caller that must not lose meaning treats any warning as an error.
type Warning struct {
	// Path is a JSON pointer (RFC 6901) into the source document; "" is the
	// root.
	Path string
	// Keyword is the JSON Schema keyword concerned ("oneOf", "prefixItems").
	Keyword string
	// Message says what was done with it.
	Message string
}

// String renders the warning as "path: keyword: message".
func (w Warning) String() string {
	path := w.Path
	if path == "" {
		path = "/"
	}
	return fmt.Sprintf("%s: %s: %s", path, w.Keyword, w.Message)
}

// Draft is a JSON Schema dialect Export can write.
type Draft int

const (
	// Draft2020_12 is JSON Schema 2020-12, the default (MCP, OpenAPI 3.1).
	Draft2020_12 Draft = iota
	// Draft07 is JSON Schema draft-07, for older validators and tool
	// definitions.
	Draft07
)

// URI is the dialect's meta-schema URI, the value of "$schema".
func (d Draft) URI() string {
	if d == Draft07 {
		return "http://json-schema.org/draft-07/schema#"
	}
	return "https://json-schema.org/draft/2020-12/schema"
}

// String names the draft: "2020-12" or "draft-07".
func (d Draft) String() string {
	if d == Draft07 {
		return "draft-07"
	}
	return "2020-12"
}

// Limits bound what a schema may cost, so that a hostile document (deep
// nesting, $ref fan-out, huge enums) is refused instead of exhausting the
// stack or memory. Zero fields take the defaults.
type Limits struct {
	// MaxDepth is the deepest nesting of schemas (the root is depth 1).
	// Import refuses a deeper document, and Export a deeper ParameterSchema.
	MaxDepth int
	// MaxNodes bounds Import's work: every schema produced, and every $ref
	// and allOf member resolved, counts one.
	MaxNodes int
	// MaxBytes bounds the size of what Import produces: the bytes of every
	// string (names, descriptions, patterns, enum members) plus 16 for each
	// value and schema. $ref expansion counts each copy.
	MaxBytes int
}

// Default limits: far beyond any real tool schema.
const (
	DefaultMaxDepth = 64
	DefaultMaxNodes = 10_000
	DefaultMaxBytes = 4 << 20
)

func (l Limits) orDefault() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxNodes <= 0 {
		l.MaxNodes = DefaultMaxNodes
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	return l
}

// ImportOption configures Import and ImportMap.
type ImportOption interface{ applyImport(*importConfig) }

// ExportOption configures Export and ExportJSON.
type ExportOption interface{ applyExport(*exportConfig) }

// Option configures both Import and Export.
type Option interface {
	ImportOption
	ExportOption
}

type importConfig struct {
	limits  Limits
	pointer string
}

type exportConfig struct {
	limits    Limits
	draft     Draft
	schemaURI bool
}

type limitsOption Limits

func (o limitsOption) applyImport(c *importConfig) { c.limits = Limits(o).orDefault() }
func (o limitsOption) applyExport(c *exportConfig) { c.limits = Limits(o).orDefault() }

// WithLimits sets the limits. Zero fields keep their defaults.
func WithLimits(l Limits) Option { return limitsOption(l) }

type pointerOption string

func (o pointerOption) applyImport(c *importConfig) { c.pointer = string(o) }

// WithPointer imports the schema at a JSON pointer inside the document
// instead of the document itself, resolving "$ref"s against the whole
// document: WithPointer("/components/schemas/Pet") imports one schema of an
// OpenAPI document whose references point at its siblings.
func WithPointer(pointer string) ImportOption { return pointerOption(pointer) }

type draftOption Draft

func (o draftOption) applyExport(c *exportConfig) { c.draft = Draft(o) }

// WithDraft selects the dialect Export writes (default Draft2020_12). The
// dialects differ only in "$schema": Export writes nothing the two read
// differently.
func WithDraft(d Draft) ExportOption { return draftOption(d) }

type schemaURIOption struct{}

func (schemaURIOption) applyExport(c *exportConfig) { c.schemaURI = true }

// WithSchemaURI makes Export write "$schema" at the root. MCP inputSchemas
// usually carry none, so by default Export writes none.
func WithSchemaURI() ExportOption { return schemaURIOption{} }
