package config

import (
	"reflect"
	"strings"
)

// Variable is one configuration key and the environment variable that sets
// it.
type Variable struct {
	// Path is the key's path in altar.yaml: "sessions.max_ttl".
	Path string
	// Name is the environment variable: "ALTAR_SESSIONS_MAX_TTL".
	Name string
	// Kind is how the variable's value is written: "string", "int",
	// "float", "duration", "list" (comma-separated), "map"
	// ("name=value,...") or "keys" ("id:role:hash,...").
	Kind string

	index []int
}

// EnvPrefix starts every configuration variable.
const EnvPrefix = "ALTAR_"

// EnvConfig names the configuration file when no path is given.
const EnvConfig = "ALTAR_CONFIG"

// notKeys are the ALTAR_* variables that are not configuration keys, which
// Load leaves alone: the file's path, and the address and API key the CLI's
// client commands (altar call, altar tools, ...) read, so that one shell can
// both run and call a gateway.
var notKeys = []string{EnvConfig, "ALTAR_ADDR", "ALTAR_API_KEY"}

// NotKeys lists the ALTAR_* variables that are not configuration keys and
// that Load ignores; every other ALTAR_* variable must name a key.
func NotKeys() []string { return append([]string(nil), notKeys...) }

var (
	durationType  = reflect.TypeFor[Duration]()
	keysType      = reflect.TypeFor[[]Key]()
	stringsType   = reflect.TypeFor[[]string]()
	stringMapType = reflect.TypeFor[map[string]string]()
)

// variables is derived once from File's yaml tags.
var variables = deriveVariables(reflect.TypeFor[File](), "", nil)

// Variables lists every key of altar.yaml with its environment variable, in
// the order of the File struct. It is derived from File's yaml tags, so a new
// key has its variable without further work.
func Variables() []Variable {
	return append([]Variable(nil), variables...)
}

func deriveVariables(t reflect.Type, prefix string, index []int) []Variable {
	var out []Variable
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		path := tag
		if prefix != "" {
			path = prefix + "." + tag
		}
		idx := append(append([]int(nil), index...), i)
		kind := kindName(sf.Type)
		if kind == "objects" {
			continue // a list or map of mappings is set in the file only
		}
		if kind == "" && sf.Type.Kind() == reflect.Struct {
			out = append(out, deriveVariables(sf.Type, path, idx)...)
			continue
		}
		if kind == "" {
			panic("config: field " + path + " has a type the decoder does not know: " + sf.Type.String())
		}
		out = append(out, Variable{
			Path:  path,
			Name:  EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_")),
			Kind:  kind,
			index: idx,
		})
	}
	return out
}

// kindName is the leaf kind of a field type, "" for a struct to descend
// into.
func kindName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "duration"
	case t == keysType:
		return "keys"
	case t == stringsType:
		return "list"
	case t == stringMapType:
		return "map"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		return "objects" // a list of mappings, such as plugins
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String && t.Elem().Kind() == reflect.Struct:
		return "objects" // mappings by name, such as invoke.limits.tools
	case t.Kind() == reflect.String:
		return "string"
	case t.Kind() == reflect.Int:
		return "int"
	case t.Kind() == reflect.Float64:
		return "float"
	}
	return ""
}
