package contract

import (
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/token"
)

// The YAML parser (goccy/go-yaml) recurses once per nesting level and once
// per key of a block mapping, and its cost grows with the square of both. A
// hostile file of a few megabytes could keep it busy for hours, so the
// tokens are checked against these bounds before anything is parsed.

// scanLimit is the first bound the tokens break, with where.
type scanLimit struct {
	tk  *token.Token
	msg string
}

// prescan checks the lexed tokens of a document against the nesting and
// block-mapping bounds; nil means the parser may run.
func prescan(tokens token.Tokens) *scanLimit {
	type level struct{ col, keys int }
	var (
		flow  int     // depth of [ and { nesting
		block []level // open block collections, by column
	)
	// open registers a block entry (a key when isKey, or a "-") at col.
	open := func(tk *token.Token, isKey bool) *scanLimit {
		col := tk.Position.Column
		for len(block) > 0 && block[len(block)-1].col > col {
			block = block[:len(block)-1]
		}
		if len(block) == 0 || block[len(block)-1].col < col {
			block = append(block, level{col: col})
		}
		if flow+len(block) > MaxDepth {
			return &scanLimit{tk, "nested deeper than the limit of " + strconv.Itoa(MaxDepth) + " levels"}
		}
		if isKey {
			top := &block[len(block)-1]
			top.keys++
			if top.keys > MaxMappingKeys {
				return &scanLimit{tk, "a block mapping has more than the limit of " + strconv.Itoa(MaxMappingKeys) + " keys"}
			}
		}
		return nil
	}
	for i, tk := range tokens {
		switch tk.Type {
		case token.SequenceStartType, token.MappingStartType:
			flow++
			if flow+len(block) > MaxDepth {
				return &scanLimit{tk, "nested deeper than the limit of " + strconv.Itoa(MaxDepth) + " levels"}
			}
		case token.SequenceEndType, token.MappingEndType:
			if flow > 0 {
				flow--
			}
		case token.DocumentHeaderType, token.DocumentEndType:
			flow, block = 0, block[:0]
		case token.SequenceEntryType:
			if flow == 0 {
				if l := open(tk, false); l != nil {
					return l
				}
			}
		case token.MappingValueType, token.CommentType:
		default:
			if flow == 0 && isKeyToken(tokens, i) {
				if l := open(tk, true); l != nil {
					return l
				}
			}
		}
	}
	return nil
}

// isKeyToken reports whether tokens[i] is a mapping key: the next token that
// is not a comment is ":".
func isKeyToken(tokens token.Tokens, i int) bool {
	for _, next := range tokens[i+1:] {
		if next.Type == token.CommentType {
			continue
		}
		return next.Type == token.MappingValueType
	}
	return false
}

// quickDepth finds, before the (slow) lexer runs, where flow brackets nest
// deeper than MaxDepth, skipping comments and quoted scalars the way YAML
// opens them. It is a cheap first filter: prescan still checks the tokens.
func quickDepth(data []byte) (line, col int, deep bool) {
	depth := 0
	line, lineStart := 1, 0
	var prev byte = '\n'
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch c {
		case '\n':
			line, lineStart = line+1, i+1
		case '#':
			if isSpaceOrStart(prev) {
				for i < len(data) && data[i] != '\n' {
					i++
				}
				i-- // the newline is counted on the next turn
			}
		case '\'', '"':
			if !isSpaceOrStart(prev) && !strings.ContainsRune("[{,:", rune(prev)) {
				break
			}
			for i++; i < len(data); i++ {
				if data[i] == '\n' {
					line, lineStart = line+1, i+1
				}
				if c == '"' && data[i] == '\\' {
					i++
					continue
				}
				if data[i] == c {
					break
				}
			}
		case '[', '{':
			depth++
			if depth > MaxDepth {
				return line, i - lineStart + 1, true
			}
		case ']', '}':
			depth = max(depth-1, 0)
		}
		if i < len(data) {
			prev = data[i]
		}
	}
	return 0, 0, false
}

func isSpaceOrStart(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }
