// Package docs holds the guides; its tests keep docs/protocol.md true to the
// IDL. Run `go test ./docs -update` to regenerate the generated sections.
package docs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	rpccode "google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

var update = flag.Bool("update", false, "rewrite the generated sections of protocol.md")

const (
	protocolDoc   = "protocol.md"
	errorProto    = "../proto/altar/v1/error.proto"
	capabilitiesG = "../proto/altar/v1/capabilities.go"
)

// undocumentedCodes gives a meaning to codes error.proto has no comment for.
// The comment belongs in error.proto; once it is there, the test asks for the
// entry here to be deleted.
var undocumentedCodes = map[altarv1.ErrorCode]string{}

// sections are the generated parts of protocol.md, by marker name.
var sections = []struct {
	name   string
	render func(t *testing.T) string
}{
	{"error-codes", errorCodeTable},
	{"capabilities", capabilityTable},
}

func TestGeneratedSections(t *testing.T) {
	doc := readDoc(t)
	out := doc
	for _, s := range sections {
		begin, end := "<!-- BEGIN "+s.name+" -->\n", "<!-- END "+s.name+" -->"
		i := strings.Index(out, begin)
		j := strings.Index(out, end)
		if i < 0 || j < i {
			t.Fatalf("%s lacks the markers %q … %q", protocolDoc, strings.TrimSpace(begin), end)
		}
		out = out[:i+len(begin)] + s.render(t) + out[j:]
	}
	if out == doc {
		return
	}
	if *update {
		if err := os.WriteFile(protocolDoc, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the generated sections of %s are stale; run `go test ./docs -update`\nfirst difference: %s",
		protocolDoc, firstDiff(doc, out))
}

func TestEveryProtoTypeIsDocumented(t *testing.T) {
	doc := readDoc(t)
	examples := exampleBlocks(doc)
	var names []protoreflect.FullName
	protoregistry.GlobalFiles.RangeFilesByPackage("altar.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Services().Len() {
			names = append(names, fd.Services().Get(i).FullName())
		}
		for i := range fd.Enums().Len() {
			names = append(names, fd.Enums().Get(i).FullName())
		}
		names = append(names, messageNames(fd.Messages())...)
		return true
	})
	if len(names) == 0 {
		t.Fatal("no altar.v1 types are registered")
	}
	for _, n := range names {
		if !regexp.MustCompile(`\b` + string(n.Name()) + `\b`).MatchString(doc) {
			t.Errorf("%s does not mention %s", protocolDoc, n.Name())
		}
		if mt, err := protoregistry.GlobalTypes.FindMessageByName(n); err == nil && mt != nil {
			if !slices.ContainsFunc(examples, func(e example) bool { return e.typ == n }) {
				t.Errorf("%s has no canonical JSON example of %s (a ```json %s block)", protocolDoc, n.Name(), n)
			}
		}
	}
}

// messageNames returns the messages and nested messages, not map entries.
func messageNames(ms protoreflect.MessageDescriptors) []protoreflect.FullName {
	var names []protoreflect.FullName
	for i := range ms.Len() {
		m := ms.Get(i)
		if m.IsMapEntry() {
			continue
		}
		names = append(names, m.FullName())
		names = append(names, messageNames(m.Messages())...)
	}
	return names
}

func TestExamplesAreCanonicalJSON(t *testing.T) {
	for _, e := range exampleBlocks(readDoc(t)) {
		mt, err := protoregistry.GlobalTypes.FindMessageByName(e.typ)
		if err != nil {
			t.Errorf("line %d: example of unknown type %s", e.line, e.typ)
			continue
		}
		m := mt.New().Interface()
		if err := protojson.Unmarshal([]byte(e.json), m); err != nil {
			t.Errorf("line %d: example is not a valid %s: %v", e.line, e.typ, err)
			continue
		}
		canonical, err := protojson.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := decode(t, e.json), decode(t, string(canonical)); !reflect.DeepEqual(got, want) {
			t.Errorf("line %d: example of %s is not in canonical form; protojson writes\n%s", e.line, e.typ, canonical)
		}
	}
}

type example struct {
	typ  protoreflect.FullName
	json string
	line int
}

// exampleBlocks returns the fenced blocks whose info string is
// "json altar.v1.Type".
func exampleBlocks(doc string) []example {
	var out []example
	var cur *example
	sc := bufio.NewScanner(strings.NewReader(doc))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```json altar.v1."):
			cur = &example{typ: protoreflect.FullName(strings.TrimPrefix(line, "```json ")), line: n}
		case cur != nil && line == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.json += line + "\n"
		}
	}
	return out
}

func decode(t *testing.T, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decoding %s: %v", s, err)
	}
	return v
}

func errorCodeTable(t *testing.T) string {
	meanings := protoCodeComments(t)
	var b strings.Builder
	b.WriteString("| Code | Number | Category | gRPC code | HTTP | Retryable | Meaning |\n")
	b.WriteString("|---|---:|---|---|---:|---|---|\n")
	for _, c := range altarv1.Codes() {
		info := c.Info()
		meaning, documented := meanings[c]
		fallback, hasFallback := undocumentedCodes[c]
		switch {
		case documented && hasFallback:
			t.Errorf("error.proto documents %v now; delete it from undocumentedCodes", c)
		case !documented && !hasFallback:
			t.Errorf("%v has no comment in error.proto and no entry in undocumentedCodes", c)
		case !documented:
			meaning = fallback
		}
		retry := "no"
		if info.Retryable {
			retry = "yes"
		}
		fmt.Fprintf(&b, "| `%s` | %d | %s | `%s` (%d) | %d | %s | %s |\n",
			c, c, strings.TrimPrefix(info.Category.String(), "ERROR_CATEGORY_"),
			rpccode.Code(info.GRPCCode), info.GRPCCode, info.HTTPStatus, retry, meaning)
	}
	return b.String()
}

// protoCodeComments returns each error code's leading comment in
// error.proto, without the category headings ("// Validation.").
func protoCodeComments(t *testing.T) map[altarv1.ErrorCode]string {
	src, err := os.ReadFile(errorProto)
	if err != nil {
		t.Fatal(err)
	}
	headings := map[string]bool{}
	for _, name := range altarv1.ErrorCategory_name {
		h := strings.ToLower(strings.TrimPrefix(name, "ERROR_CATEGORY_"))
		headings[strings.ToUpper(h[:1])+h[1:]+"."] = true
	}
	codeLine := regexp.MustCompile(`^\s*(ERROR_CODE_\w+)\s*=`)
	out := map[altarv1.ErrorCode]string{}
	var pending []string
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if c, ok := strings.CutPrefix(line, "//"); ok {
			if c = strings.TrimSpace(c); !headings[c] {
				pending = append(pending, c)
			}
			continue
		}
		if m := codeLine.FindStringSubmatch(line); m != nil && len(pending) > 0 {
			out[altarv1.ErrorCode(altarv1.ErrorCode_value[m[1]])] = strings.Join(pending, " ")
		}
		pending = nil
	}
	return out
}

func capabilityTable(t *testing.T) string {
	comments := capabilityComments(t)
	var b strings.Builder
	b.WriteString("| Capability | Go constant | Required from | Meaning |\n")
	b.WriteString("|---|---|---|---|\n")
	for _, c := range altarv1.KnownCapabilities() {
		doc, ok := comments[c]
		if !ok {
			t.Errorf("capability %q has no documented constant in %s", c, capabilitiesG)
			continue
		}
		level := "optional"
		if strings.HasPrefix(doc.text, "The Host ") {
			level = "Host feature"
		}
		for _, l := range []altarv1.ComplianceLevel{1, 2, 3} {
			if slices.Contains(altarv1.CapabilitiesForLevel(l), c) {
				level = fmt.Sprintf("Level %d", l)
				break
			}
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s |\n", c, doc.name, level, doc.text)
	}
	return b.String()
}

type constDoc struct{ name, text string }

// capabilityComments maps each capability string in capabilities.go to its
// constant's name and one-line comment ("// Name: text").
func capabilityComments(t *testing.T) map[string]constDoc {
	f, err := parser.ParseFile(token.NewFileSet(), capabilitiesG, nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]constDoc{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			if len(vs.Names) != 1 || len(vs.Values) != 1 || vs.Doc == nil {
				continue
			}
			lit, ok := vs.Values[0].(*ast.BasicLit)
			name := vs.Names[0].Name
			text, found := strings.CutPrefix(strings.TrimSpace(vs.Doc.Text()), name+": ")
			if !ok || lit.Kind != token.STRING || !found {
				continue
			}
			value := strings.Trim(lit.Value, "\"`")
			r := []rune(text)
			r[0] = unicode.ToUpper(r[0])
			out[value] = constDoc{name: "altarv1." + name, text: string(r)}
		}
	}
	return out
}

func readDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(protocolDoc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// firstDiff shows where a and b first differ.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n  have %q\n  want %q", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("the files have %d and %d lines", len(al), len(bl))
}
