package contract

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
	"google.golang.org/protobuf/proto"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/schema"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// ManifestVersion is the only manifest format version there is.
const ManifestVersion = "1.0"

// Limits on one manifest file. A breach is reported like any other problem
// (rule "limit"), never a crash or an unbounded wait.
const (
	// MaxFileBytes is the largest manifest file.
	MaxFileBytes = 4 << 20
	// MaxDepth is the deepest nesting of mappings and sequences in a file.
	// Schemas have their own, smaller limit (schema.DefaultMaxDepth).
	MaxDepth = 256
	// MaxMappingKeys is the most keys one block-style mapping may have (the
	// YAML parser's cost grows with the square of it; flow style and JSON
	// are not limited).
	MaxMappingKeys = 1024
	// MaxContracts is the most contracts one manifest may declare.
	MaxContracts = 10_000
	// MaxAliasExpansion is the most nodes that YAML aliases may add to a
	// document when expanded.
	MaxAliasExpansion = 100_000
)

// Manifest is a loaded, checked set of trusted contracts.
type Manifest struct {
	// Source names where the manifest came from: the file's path as given,
	// or "" for a manifest received as a proto.
	Source string
	// Proto is the manifest. Callers must not modify it: the compiled
	// schemas refer to it.
	Proto *altarv1.ToolManifest
	// Contracts are the manifest's contracts in order; Contracts[i].Proto
	// is Proto.Contracts[i].
	Contracts []*Contract
}

// Contract is one checked contract with its compiled schemas.
type Contract struct {
	// Proto is the contract, as in the manifest. Callers must not modify it.
	Proto *altarv1.ToolContract
	// Params validates a call's arguments. When the contract has no
	// parameters it is the empty object schema (no arguments accepted).
	Params *schema.Schema
	// Result validates the tool's result. When the contract has no
	// return_type it accepts any value.
	Result *schema.Schema
	// Pos is where the contract starts in its file; only File is set for a
	// manifest received as a proto ("" then).
	Pos Position

	path string // "contracts[3]", for messages when there is no position
}

// Name is the contract's name.
func (c *Contract) Name() string { return c.Proto.GetName() }

// Version is the contract's version.
func (c *Contract) Version() string { return c.Proto.GetVersion() }

// where names the contract's place for messages: its position, or its path.
func (c *Contract) where() string {
	if c.Pos.Line > 0 {
		return c.Pos.String()
	}
	if c.Pos.File != "" {
		return c.Pos.File + ": " + c.path
	}
	return c.path
}

// Parse reads a manifest in YAML or JSON (JSON is YAML, and is read by the
// same parser, so both report lines and columns). source names the document
// in positions and messages, usually its file path.
//
// Every problem is reported, not just the first: the error is an
// *altarerr.Error with code ERROR_CODE_INVALID_MANIFEST whose Fields each
// carry the file, line, column, a path such as
// "contracts[0].parameters.properties.age.minimum", the rule that failed and
// a message. See docs/manifests.md for the format.
func Parse(source string, data []byte) (*Manifest, error) {
	p := &problems{}
	m, contracts := parse(source, data, p)
	if len(p.fields) > 0 {
		sortFields(p.fields)
		return nil, manifestError(describeSource(source), p.fields)
	}
	return &Manifest{Source: source, Proto: m, Contracts: contracts}, nil
}

func describeSource(source string) string {
	if source == "" {
		return "manifest"
	}
	return source
}

func parse(source string, data []byte, p *problems) (*altarv1.ToolManifest, []*Contract) {
	whole := Position{File: source}
	if len(data) > MaxFileBytes {
		p.add(whole, "", RuleLimit, "the file is %d bytes; the limit is %d", len(data), MaxFileBytes)
		return nil, nil
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		line := 1 + bytes.Count(data[:firstInvalidUTF8(data)], []byte("\n"))
		p.add(Position{File: source, Line: line}, "", RuleSyntax, "the file is not valid UTF-8")
		return nil, nil
	}
	if line, col, deep := quickDepth(data); deep {
		p.add(Position{File: source, Line: line, Column: col}, "", RuleLimit, "nested deeper than the limit of %d levels", MaxDepth)
		return nil, nil
	}
	tokens := lexer.Tokenize(string(data))
	if lim := prescan(tokens); lim != nil {
		p.add(tokenPos(source, lim.tk), "", RuleLimit, "%s", lim.msg)
		return nil, nil
	}
	file, err := parseTokens(tokens)
	if err != nil {
		pos, msg := whole, err.Error()
		var ye yaml.Error
		if errors.As(err, &ye) {
			pos, msg = tokenPos(source, ye.GetToken()), ye.GetMessage()
		}
		p.add(pos, "", RuleSyntax, "%s", msg)
		return nil, nil
	}
	body := emptyBody(file)
	switch {
	case len(file.Docs) > 1:
		p.add(Position{File: source, Line: docLine(file, 1)}, "", RuleSyntax,
			"a manifest file holds one YAML document; another one starts here")
		return nil, nil
	case body:
		p.add(whole, "", RuleRequired, "the file is empty: a manifest needs manifest_version and contracts")
		return nil, nil
	}
	d := &decoder{file: source, p: p, pos: map[string]Position{}, alias: map[*ast.AliasNode]ast.Node{}}
	root := file.Docs[0].Body
	d.pos[""] = d.at(root)
	a := &anchors{d: d, current: map[string]*ast.AnchorNode{}, size: map[*ast.AnchorNode]int{}, open: map[*ast.AnchorNode]bool{}}
	a.walk(root)
	if a.over {
		return nil, nil
	}
	m := d.manifest(root)
	if m == nil {
		return nil, nil
	}
	p.seal()
	c := &checker{file: source, p: p, pos: d.pos}
	return m, c.manifest(m)
}

// parseTokens runs the YAML parser, turning a panic on hostile input into an
// error.
func parseTokens(tokens token.Tokens) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("the YAML parser failed on this input: %v", r)
		}
	}()
	return parser.Parse(tokens, 0)
}

func emptyBody(f *ast.File) bool {
	return len(f.Docs) == 0 || f.Docs[0] == nil || f.Docs[0].Body == nil
}

func docLine(f *ast.File, i int) int {
	if d := f.Docs[i]; d != nil {
		if d.Start != nil && d.Start.Position != nil {
			return d.Start.Position.Line
		}
		if line, _ := nodePos(d.Body); line > 0 {
			return line
		}
	}
	return 0
}

func tokenPos(file string, tk *token.Token) Position {
	if tk == nil || tk.Position == nil {
		return Position{File: file}
	}
	return Position{File: file, Line: tk.Position.Line, Column: tk.Position.Column}
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// LoadFile reads and parses one manifest file; see Parse.
func LoadFile(path string) (*Manifest, error) {
	p := &problems{}
	data, ok := readFile(path, p)
	if !ok {
		return nil, manifestError(path, p.fields)
	}
	return Parse(path, data)
}

func readFile(path string, p *problems) ([]byte, bool) {
	f, err := os.Open(path)
	if err != nil {
		p.add(Position{File: path}, "", RuleFile, "%s", fileError(err))
		return nil, false
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		p.add(Position{File: path}, "", RuleFile, "%s", fileError(err))
		return nil, false
	}
	if len(data) > MaxFileBytes {
		p.add(Position{File: path}, "", RuleLimit, "the file is larger than the limit of %d bytes", MaxFileBytes)
		return nil, false
	}
	return data, true
}

// fileError is an I/O error without the path, which the position carries.
func fileError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// IsManifestFile reports whether a file found in a folder is loaded as a
// manifest: its name ends in .yaml, .yml or .json, but not in .schema.json
// (manifest.schema.json describes manifests; it is not one).
func IsManifestFile(name string) bool {
	if strings.HasSuffix(name, ".schema.json") {
		return false
	}
	switch filepath.Ext(name) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// ExpandPaths lists the manifest files that paths name: a file as is, a
// folder as every manifest file in it and its subfolders (IsManifestFile;
// folders whose names start with "." are skipped), in lexical order. Paths
// are kept in the order given and each file appears once. A path that does
// not exist, or a folder with no manifest in it, is reported in the error
// (an *altarerr.Error with code ERROR_CODE_INVALID_MANIFEST); the files that
// were found are returned all the same.
func ExpandPaths(paths ...string) ([]string, error) {
	p := &problems{}
	var files []string
	seen := make(map[string]bool)
	add := func(f string) {
		if key := filepath.Clean(f); !seen[key] {
			seen[key] = true
			files = append(files, f)
		}
	}
	for _, path := range paths {
		info, err := os.Stat(path)
		if err != nil {
			p.add(Position{File: path}, "", RuleFile, "%s", fileError(err))
			continue
		}
		if !info.IsDir() {
			add(path)
			continue
		}
		found := 0
		err = filepath.WalkDir(path, func(f string, de fs.DirEntry, err error) error {
			if err != nil {
				p.add(Position{File: f}, "", RuleFile, "%s", fileError(err))
				return nil
			}
			if de.IsDir() {
				if f != path && strings.HasPrefix(de.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if IsManifestFile(de.Name()) && de.Type().IsRegular() {
				found++
				add(f)
			}
			return nil
		})
		if err != nil {
			p.add(Position{File: path}, "", RuleFile, "%s", fileError(err))
		} else if found == 0 {
			p.add(Position{File: path}, "", RuleFile, "no manifest files (*.yaml, *.yml, *.json) in this folder")
		}
	}
	if len(p.fields) > 0 {
		return files, manifestError(pathsWhat(len(p.fields)), p.fields)
	}
	return files, nil
}

func pathsWhat(n int) string {
	if n == 1 {
		return "1 path"
	}
	return fmt.Sprintf("%d paths", n)
}

// LoadPaths loads every manifest that paths name (files, and folders as
// ExpandPaths lists them), in a deterministic order, and checks across them
// that no contract (name and version) is defined twice.
//
// The error, when there is one, is an *altarerr.Error with code
// ERROR_CODE_INVALID_MANIFEST listing every problem of every file. The
// manifests that loaded without a problem of their own are returned even
// then, so that a caller can report file by file; a caller that needs all
// of them or nothing must check the error.
func LoadPaths(paths ...string) ([]*Manifest, error) {
	files, err := ExpandPaths(paths...)
	fields := fieldsOf(err)
	var out []*Manifest
	first := make(map[string]*Contract)
	for _, f := range files {
		m, err := LoadFile(f)
		if err != nil {
			fields = append(fields, fieldsOf(err)...)
			continue
		}
		for _, c := range m.Contracts {
			key := c.Name() + "@" + c.Version()
			if prev, dup := first[key]; dup {
				fields = append(fields, &altarv1.FieldError{
					Path: c.path,
					Rule: RuleDuplicate,
					Message: fmt.Sprintf("contract %s version %s is defined twice; the first is at %s",
						strconv.Quote(c.Name()), strconv.Quote(c.Version()), prev.where()),
					File:   c.Pos.File,
					Line:   uint32(c.Pos.Line),
					Column: uint32(c.Pos.Column),
				})
				continue
			}
			first[key] = c
		}
		out = append(out, m)
	}
	if len(fields) > 0 {
		return out, manifestError("manifests", fields)
	}
	return out, nil
}

// fieldsOf is the field errors of a load's error.
func fieldsOf(err error) []*altarv1.FieldError {
	if err == nil {
		return nil
	}
	var ae *altarerr.Error
	if errors.As(err, &ae) && len(ae.Fields) > 0 {
		return ae.Fields
	}
	return []*altarv1.FieldError{{Message: err.Error()}}
}

// FromProto checks a manifest that arrived as a proto (the LoadManifest
// RPC) as Parse checks a file, and compiles its schemas. Problems have paths
// ("contracts[0].parameters.properties.age.minimum") but no positions. m is
// copied; the caller keeps it.
func FromProto(m *altarv1.ToolManifest) (*Manifest, error) {
	p := &problems{}
	if m == nil {
		p.add(Position{}, "", RuleRequired, "the manifest is missing")
		return nil, manifestError("manifest", p.fields)
	}
	m = proto.Clone(m).(*altarv1.ToolManifest)
	if n := len(m.GetContracts()); n > MaxContracts {
		p.add(Position{}, joinIndex("contracts", MaxContracts), RuleLimit, "more than the limit of %d contracts in one manifest (%d)", MaxContracts, n)
		return nil, manifestError("manifest", p.fields)
	}
	p.seal()
	c := &checker{p: p}
	contracts := c.manifest(m)
	if len(p.fields) > 0 {
		return nil, manifestError("manifest", p.fields)
	}
	return &Manifest{Proto: m, Contracts: contracts}, nil
}
