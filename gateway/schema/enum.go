package schema

import (
	"math"

	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// enumSet holds a schema's allowed values, indexed by kind so that checking
// a scalar allocates nothing. Integers and doubles compare numerically, as in
// JSON Schema (1 and 1.0 are the same member).
type enumSet struct {
	n       int
	strs    map[string]struct{}
	bytes   map[string]struct{}
	ints    map[int64]struct{}
	doubles map[float64]struct{}
	bools   [2]bool
	null    bool
	other   []*altarv1.Value // arrays and objects
	members []*altarv1.Value // in declaration order, for messages
}

func (e *enumSet) empty() bool { return e.n == 0 }

func (e *enumSet) add(v *altarv1.Value) {
	e.n++
	e.members = append(e.members, v)
	switch k := v.GetKind().(type) {
	case *altarv1.Value_StringValue:
		if e.strs == nil {
			e.strs = map[string]struct{}{}
		}
		e.strs[k.StringValue] = struct{}{}
	case *altarv1.Value_BytesValue:
		if e.bytes == nil {
			e.bytes = map[string]struct{}{}
		}
		e.bytes[string(k.BytesValue)] = struct{}{}
	case *altarv1.Value_IntValue:
		if e.ints == nil {
			e.ints = map[int64]struct{}{}
		}
		e.ints[k.IntValue] = struct{}{}
	case *altarv1.Value_DoubleValue:
		if e.doubles == nil {
			e.doubles = map[float64]struct{}{}
		}
		e.doubles[k.DoubleValue] = struct{}{}
	case *altarv1.Value_BoolValue:
		if k.BoolValue {
			e.bools[1] = true
		} else {
			e.bools[0] = true
		}
	case *altarv1.Value_NullValue:
		e.null = true
	default:
		e.other = append(e.other, v)
	}
}

func (e *enumSet) contains(v *altarv1.Value) bool {
	if e.n == 0 {
		return false
	}
	switch k := v.GetKind().(type) {
	case *altarv1.Value_StringValue:
		_, ok := e.strs[k.StringValue]
		return ok
	case *altarv1.Value_BytesValue:
		_, ok := e.bytes[string(k.BytesValue)]
		return ok
	case *altarv1.Value_IntValue:
		if _, ok := e.ints[k.IntValue]; ok {
			return true
		}
		f := float64(k.IntValue)
		if f >= -(1<<63) && f < 1<<63 && int64(f) == k.IntValue {
			_, ok := e.doubles[f]
			return ok
		}
		return false
	case *altarv1.Value_DoubleValue:
		if _, ok := e.doubles[k.DoubleValue]; ok {
			return true
		}
		d := k.DoubleValue
		if d == math.Trunc(d) && d >= -(1<<63) && d < 1<<63 {
			_, ok := e.ints[int64(d)]
			return ok
		}
		return false
	case *altarv1.Value_BoolValue:
		if k.BoolValue {
			return e.bools[1]
		}
		return e.bools[0]
	case *altarv1.Value_NullValue:
		return e.null
	default:
		for _, o := range e.other {
			if Equal(o, v) {
				return true
			}
		}
		return false
	}
}
