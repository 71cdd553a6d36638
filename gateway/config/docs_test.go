package config_test

import (
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/altar-gateway/altar/gateway/config"
)

const configurationDoc = "../../docs/configuration.md"

// TestDocumentedVariables keeps the key table of docs/configuration.md in
// step with File: every key, its variable, its kind and its default.
func TestDocumentedVariables(t *testing.T) {
	data, err := os.ReadFile(configurationDoc)
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ name, kind, def string }
	rows := map[string]row{}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) < 6 {
			continue
		}
		unquote := func(s string) string { return strings.Trim(strings.TrimSpace(s), "`") }
		rows[unquote(cells[1])] = row{unquote(cells[2]), unquote(cells[3]), unquote(cells[4])}
	}
	defaults := reflect.ValueOf(config.Default()).Elem()
	for _, v := range config.Variables() {
		r, ok := rows[v.Path]
		if !ok {
			t.Errorf("%s: %s does not document the key %s", v.Path, configurationDoc, v.Name)
			continue
		}
		delete(rows, v.Path)
		if r.name != v.Name || r.kind != v.Kind {
			t.Errorf("%s: documented as %s (%s), want %s (%s)", v.Path, r.name, r.kind, v.Name, v.Kind)
		}
		field := defaults
		for _, part := range strings.Split(v.Path, ".") {
			field = fieldByTag(field, part)
		}
		var want string
		switch v.Kind {
		case "duration":
			d, err := time.ParseDuration(r.def)
			if err != nil || config.Duration(d) != field.Interface().(config.Duration) {
				t.Errorf("%s: documented default %q, want %v", v.Path, r.def, field.Interface())
			}
			continue
		case "float":
			f, err := strconv.ParseFloat(r.def, 64)
			if err != nil || f != field.Float() {
				t.Errorf("%s: documented default %q, want %v", v.Path, r.def, field.Float())
			}
			continue
		case "int":
			want = strconv.FormatInt(field.Int(), 10)
		case "string":
			want = field.String()
		default:
			continue
		}
		if r.def != want {
			t.Errorf("%s: documented default %q, want %q", v.Path, r.def, want)
		}
	}
	for path := range rows {
		t.Errorf("%s documents %s, which is not a key", configurationDoc, path)
	}
}

func fieldByTag(v reflect.Value, tag string) reflect.Value {
	for i := range v.NumField() {
		if name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ","); name == tag {
			return v.Field(i)
		}
	}
	panic("no field " + tag)
}
