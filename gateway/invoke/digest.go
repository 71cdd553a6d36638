package invoke

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"slices"
	"sync"

	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// The arguments of a call are reduced to a 32-byte digest: the key that
// tells a repeated invocation_id with the same arguments from one with
// different arguments, and part of the result cache's key. The digest is
// SHA-256 over a secret per-engine key followed by a canonical encoding of
// the tool name and arguments: every value is a kind tag and its contents
// (length-prefixed strings and bytes, integers and doubles as 8 bytes, so
// 3 and 3.0 differ), object keys sorted. The key keeps a digest of a
// low-entropy secret argument from being brute-forced out of memory; the
// arguments themselves are never kept past the call.

type digester struct {
	buf  []byte
	keys []string
}

var digesters = sync.Pool{New: func() any { return &digester{buf: make([]byte, 0, 512), keys: make([]string, 0, 32)} }}

// maxPooledDigestBuf keeps one huge call from pinning its buffer forever.
const maxPooledDigestBuf = 64 << 10

func digestArgs(key *[32]byte, tool string, params map[string]*altarv1.Value) [32]byte {
	d := digesters.Get().(*digester)
	d.buf = append(d.buf[:0], key[:]...)
	d.str(tool)
	d.fields(params)
	sum := sha256.Sum256(d.buf)
	if cap(d.buf) <= maxPooledDigestBuf {
		d.keys = d.keys[:0]
		digesters.Put(d)
	}
	return sum
}

func (d *digester) str(s string) {
	d.buf = binary.AppendUvarint(d.buf, uint64(len(s)))
	d.buf = append(d.buf, s...)
}

func (d *digester) fields(m map[string]*altarv1.Value) {
	d.buf = binary.AppendUvarint(d.buf, uint64(len(m)))
	start := len(d.keys)
	for k := range m {
		d.keys = append(d.keys, k)
	}
	slices.Sort(d.keys[start:])
	n := len(d.keys) - start
	for i := range n {
		k := d.keys[start+i] // re-index: nested objects may grow d.keys
		d.str(k)
		d.value(m[k])
	}
	d.keys = d.keys[:start]
}

const (
	tagNull byte = iota + 1
	tagString
	tagInt
	tagDouble
	tagBool
	tagBytes
	tagArray
	tagObject
	tagUnset
)

func (d *digester) value(v *altarv1.Value) {
	switch k := v.GetKind().(type) {
	case *altarv1.Value_NullValue:
		d.buf = append(d.buf, tagNull)
	case *altarv1.Value_StringValue:
		d.buf = append(d.buf, tagString)
		d.str(k.StringValue)
	case *altarv1.Value_IntValue:
		d.buf = append(d.buf, tagInt)
		d.buf = binary.LittleEndian.AppendUint64(d.buf, uint64(k.IntValue))
	case *altarv1.Value_DoubleValue:
		d.buf = append(d.buf, tagDouble)
		d.buf = binary.LittleEndian.AppendUint64(d.buf, math.Float64bits(k.DoubleValue))
	case *altarv1.Value_BoolValue:
		b := byte(0)
		if k.BoolValue {
			b = 1
		}
		d.buf = append(d.buf, tagBool, b)
	case *altarv1.Value_BytesValue:
		d.buf = append(d.buf, tagBytes)
		d.buf = binary.AppendUvarint(d.buf, uint64(len(k.BytesValue)))
		d.buf = append(d.buf, k.BytesValue...)
	case *altarv1.Value_ArrayValue:
		items := k.ArrayValue.GetItems()
		d.buf = append(d.buf, tagArray)
		d.buf = binary.AppendUvarint(d.buf, uint64(len(items)))
		for _, it := range items {
			d.value(it)
		}
	case *altarv1.Value_ObjectValue:
		d.buf = append(d.buf, tagObject)
		d.fields(k.ObjectValue.GetFields())
	default:
		d.buf = append(d.buf, tagUnset)
	}
}

// hasSensitive reports whether any part of the schema is marked sensitive.
func hasSensitive(ps *altarv1.ParameterSchema) bool {
	if ps == nil {
		return false
	}
	if ps.GetSensitive() || hasSensitive(ps.GetItems()) {
		return true
	}
	for _, p := range ps.GetProperties() {
		if hasSensitive(p) {
			return true
		}
	}
	for _, p := range ps.GetAnyOf() {
		if hasSensitive(p) {
			return true
		}
	}
	return false
}
