package wire_test

import (
	"math"
	"sort"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"pgregory.net/rapid"

	"github.com/altar-gateway/altar/gateway/wire"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// The generated package registers every altar.v1 file when it is linked in.
var _ = altarv1.File_altar_v1_value_proto

// altarMessageTypes lists every message type of package altar.v1, nested
// ones included, map entries excluded, sorted by name.
func altarMessageTypes(t testing.TB) []protoreflect.MessageType {
	t.Helper()
	var out []protoreflect.MessageType
	var walk func(protoreflect.MessageDescriptors)
	walk = func(mds protoreflect.MessageDescriptors) {
		for i := 0; i < mds.Len(); i++ {
			md := mds.Get(i)
			if md.IsMapEntry() {
				continue
			}
			mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
			if err != nil {
				t.Fatalf("message %s has no Go type: %v", md.FullName(), err)
			}
			out = append(out, mt)
			walk(md.Messages())
		}
	}
	protoregistry.GlobalFiles.RangeFilesByPackage("altar.v1", func(fd protoreflect.FileDescriptor) bool {
		walk(fd.Messages())
		return true
	})
	sort.Slice(out, func(i, j int) bool {
		return out[i].Descriptor().FullName() < out[j].Descriptor().FullName()
	})
	return out
}

func TestAltarMessageTypes(t *testing.T) {
	types := altarMessageTypes(t)
	if len(types) == 0 {
		t.Fatal("no altar.v1 message types are registered")
	}
	have := map[protoreflect.FullName]bool{}
	for _, mt := range types {
		have[mt.Descriptor().FullName()] = true
	}
	for _, name := range []protoreflect.FullName{
		"altar.v1.HostMessage", "altar.v1.RuntimeMessage", "altar.v1.ToolManifest", "altar.v1.ToolContract",
		"altar.v1.Value", "altar.v1.ArrayValue", "altar.v1.ObjectValue", "altar.v1.ParameterSchema",
		"altar.v1.ToolCall", "altar.v1.ToolResult", "altar.v1.Error", "altar.v1.InvokeRequest",
	} {
		if !have[name] {
			t.Errorf("%s is missing from the altar.v1 message types", name)
		}
	}
	t.Logf("%d altar.v1 message types", len(types))
}

// msgGen draws random messages of any descriptor: a random subset of
// fields, exactly one member (or none) of each oneof, lists and maps of a
// few entries, and nested messages down to a bounded depth. Every value is
// one both encodings carry exactly: finite floats, defined enum values,
// valid UTF-8, and timestamps and durations within protojson's ranges.
type msgGen struct {
	t *rapid.T
}

func (g msgGen) message(m protoreflect.Message, depth int) {
	md := m.Descriptor()
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		secs := rapid.OneOf(
			rapid.Int64Range(-62135596800, 253402300799),
			rapid.SampledFrom([]int64{-62135596800, 253402300799, 0, 1700000000}),
		).Draw(g.t, "seconds")
		m.Set(md.Fields().ByName("seconds"), protoreflect.ValueOfInt64(secs))
		m.Set(md.Fields().ByName("nanos"), protoreflect.ValueOfInt32(rapid.Int32Range(0, 999_999_999).Draw(g.t, "nanos")))
		return
	case "google.protobuf.Duration":
		const maxSecs = 315576000000
		secs := rapid.OneOf(
			rapid.Int64Range(-maxSecs, maxSecs),
			rapid.SampledFrom([]int64{-maxSecs, maxSecs, 0, 30}),
		).Draw(g.t, "seconds")
		nanos := rapid.Int32Range(0, 999_999_999).Draw(g.t, "nanos")
		if secs < 0 || (secs == 0 && rapid.Bool().Draw(g.t, "negative")) {
			nanos = -nanos
		}
		m.Set(md.Fields().ByName("seconds"), protoreflect.ValueOfInt64(secs))
		m.Set(md.Fields().ByName("nanos"), protoreflect.ValueOfInt32(nanos))
		return
	}

	oneofs := md.Oneofs()
	for i := 0; i < oneofs.Len(); i++ {
		od := oneofs.Get(i)
		if od.IsSynthetic() {
			continue // proto3 optional: an ordinary field below
		}
		members := od.Fields()
		pick := rapid.IntRange(-1, members.Len()-1).Draw(g.t, string(od.Name()))
		if pick >= 0 {
			fd := members.Get(pick)
			if fd.Message() != nil && depth <= 0 && !isLeafMessage(fd.Message()) {
				continue
			}
			g.setField(m, fd, depth)
		}
	}
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			continue
		}
		if !rapid.Bool().Draw(g.t, "set "+string(fd.Name())) {
			continue
		}
		if depth <= 0 && fieldNeedsDepth(fd) {
			continue
		}
		g.setField(m, fd, depth)
	}
}

// fieldNeedsDepth reports whether setting fd recurses into a message that is
// not a leaf.
func fieldNeedsDepth(fd protoreflect.FieldDescriptor) bool {
	if fd.IsMap() {
		fd = fd.MapValue()
	}
	return fd.Message() != nil && !isLeafMessage(fd.Message())
}

func isLeafMessage(md protoreflect.MessageDescriptor) bool {
	switch md.FullName() {
	case "google.protobuf.Timestamp", "google.protobuf.Duration":
		return true
	}
	return md.Fields().Len() == 0
}

func (g msgGen) setField(m protoreflect.Message, fd protoreflect.FieldDescriptor, depth int) {
	switch {
	case fd.IsList():
		list := m.Mutable(fd).List()
		n := rapid.IntRange(0, 3).Draw(g.t, "len "+string(fd.Name()))
		for range n {
			if fd.Message() != nil {
				e := list.NewElement()
				g.message(e.Message(), depth-1)
				list.Append(e)
			} else {
				list.Append(g.scalar(fd))
			}
		}
	case fd.IsMap():
		mp := m.Mutable(fd).Map()
		n := rapid.IntRange(0, 3).Draw(g.t, "len "+string(fd.Name()))
		for range n {
			k := g.scalar(fd.MapKey()).MapKey()
			if vd := fd.MapValue(); vd.Message() != nil {
				v := mp.NewValue()
				g.message(v.Message(), depth-1)
				mp.Set(k, v)
			} else {
				mp.Set(k, g.scalar(vd))
			}
		}
	case fd.Message() != nil:
		v := m.NewField(fd)
		g.message(v.Message(), depth-1)
		m.Set(fd, v)
	default:
		m.Set(fd, g.scalar(fd))
	}
}

var (
	int32Edges  = []int32{0, 1, -1, math.MaxInt32, math.MinInt32}
	int64Edges  = []int64{0, 1, -1, math.MaxInt64, math.MinInt64, 1<<53 + 1, -(1<<53 + 1)}
	uint32Edges = []uint32{0, 1, math.MaxUint32}
	uint64Edges = []uint64{0, 1, math.MaxUint64, 1<<63 + 1}
	floatEdges  = []float64{0, math.Copysign(0, -1), 1.5, -1e300, math.MaxFloat64, math.SmallestNonzeroFloat64}
	stringEdges = []string{"", "a", "é世🎉", "\x00\n\"\\", "\u2028<>&"}
)

func (g msgGen) scalar(fd protoreflect.FieldDescriptor) protoreflect.Value {
	name := string(fd.Name())
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(rapid.Bool().Draw(g.t, name))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(rapid.OneOf(rapid.Int32(), rapid.SampledFrom(int32Edges)).Draw(g.t, name))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(rapid.OneOf(rapid.Int64(), rapid.SampledFrom(int64Edges)).Draw(g.t, name))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(rapid.OneOf(rapid.Uint32(), rapid.SampledFrom(uint32Edges)).Draw(g.t, name))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(rapid.OneOf(rapid.Uint64(), rapid.SampledFrom(uint64Edges)).Draw(g.t, name))
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(rapid.Float32Range(-math.MaxFloat32, math.MaxFloat32).Draw(g.t, name))
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(rapid.OneOf(rapid.Float64(), rapid.SampledFrom(floatEdges)).Draw(g.t, name))
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(rapid.OneOf(rapid.String(), rapid.SampledFrom(stringEdges)).Draw(g.t, name))
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes(rapid.SliceOfN(rapid.Byte(), 0, 16).Draw(g.t, name))
	case protoreflect.EnumKind:
		values := fd.Enum().Values()
		nums := make([]protoreflect.EnumNumber, values.Len())
		for i := range nums {
			nums[i] = values.Get(i).Number()
		}
		return protoreflect.ValueOfEnum(rapid.SampledFrom(nums).Draw(g.t, name))
	default:
		g.t.Fatalf("field %s has unexpected kind %v", fd.FullName(), fd.Kind())
		return protoreflect.Value{}
	}
}

// TestRoundTripEveryMessage checks, for every altar.v1 message type, that
// random messages survive both encodings exactly and that DetectFormat
// recognises each encoding.
func TestRoundTripEveryMessage(t *testing.T) {
	for _, mt := range altarMessageTypes(t) {
		t.Run(string(mt.Descriptor().Name()), func(t *testing.T) {
			rapid.Check(t, func(rt *rapid.T) {
				m := mt.New()
				msgGen{rt}.message(m, 4)
				msg := m.Interface()
				for _, f := range []wire.Format{wire.FormatBinary, wire.FormatJSON} {
					b, err := wire.Marshal(msg, f)
					if err != nil {
						rt.Fatalf("Marshal(%v, %v): %v", msg, f, err)
					}
					if got := wire.DetectFormat(b); got != f {
						rt.Fatalf("DetectFormat(%v encoding %q) = %v", f, b, got)
					}
					back := mt.New().Interface()
					if err := wire.Unmarshal(b, back, f, wire.Limits{}); err != nil {
						rt.Fatalf("Unmarshal(%v encoding %q): %v", f, b, err)
					}
					if !proto.Equal(back, msg) {
						rt.Fatalf("%v round trip of %v gave %v", f, msg, back)
					}
					if f == wire.FormatBinary {
						// Deterministic: the decoded message encodes to
						// the same bytes (map entries sorted).
						again, err := wire.Marshal(back, f)
						if err != nil || string(again) != string(b) {
							rt.Fatalf("binary re-encoding %x, %v differs from %x", again, err, b)
						}
					}
					detected := mt.New().Interface()
					if df, err := wire.UnmarshalDetect(b, detected, wire.Limits{}); err != nil || df != f || !proto.Equal(detected, msg) {
						rt.Fatalf("UnmarshalDetect(%v encoding) = %v, %v", f, df, err)
					}
				}
			})
		})
	}
}
