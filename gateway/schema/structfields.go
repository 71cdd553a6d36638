package schema

import (
	"reflect"
	"strings"
	"sync"
)

type structField struct {
	name      string
	index     []int
	omitEmpty bool
}

var structFieldCache sync.Map // reflect.Type -> []structField

// structFields lists a struct type's exported fields as encoding/json would
// name them: the json tag's name, or the Go name; "-" skips a field.
func structFields(t reflect.Type) []structField {
	if cached, ok := structFieldCache.Load(t); ok {
		return cached.([]structField)
	}
	var fields []structField
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Name
		omitEmpty := false
		if tag, ok := f.Tag.Lookup("json"); ok {
			if tag == "-" {
				continue
			}
			parts := strings.Split(tag, ",")
			if parts[0] != "" {
				name = parts[0]
			}
			for _, opt := range parts[1:] {
				if opt == "omitempty" || opt == "omitzero" {
					omitEmpty = true
				}
			}
		}
		fields = append(fields, structField{name: name, index: f.Index, omitEmpty: omitEmpty})
	}
	structFieldCache.Store(t, fields)
	return fields
}
