package session

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// TestCloneSecurity: cloneSecurity copies every field SecurityContext has
// (set here by reflection, so a field added to the message fails this test
// until cloneSecurity copies it), unknown fields included, and the copy
// shares nothing with the original.
func TestCloneSecurity(t *testing.T) {
	sc := &altarv1.SecurityContext{}
	m := sc.ProtoReflect()
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		switch {
		case fd.IsMap() && fd.MapKey().Kind() == protoreflect.StringKind && fd.MapValue().Kind() == protoreflect.StringKind:
			mp := m.Mutable(fd).Map()
			mp.Set(protoreflect.ValueOfString("k").MapKey(), protoreflect.ValueOfString("v-"+string(fd.Name())))
		case fd.IsList() && fd.Kind() == protoreflect.StringKind:
			m.Mutable(fd).List().Append(protoreflect.ValueOfString("v-" + string(fd.Name())))
		case fd.Cardinality() != protoreflect.Repeated && fd.Kind() == protoreflect.StringKind:
			m.Set(fd, protoreflect.ValueOfString("v-"+string(fd.Name())))
		default:
			t.Fatalf("SecurityContext.%s (%v) is new to cloneSecurity: copy it there and set it here", fd.Name(), fd.Kind())
		}
	}
	m.SetUnknown(protowire.AppendTag(nil, 99, protowire.VarintType))
	m.SetUnknown(protowire.AppendVarint(m.GetUnknown(), 7))

	c := cloneSecurity(sc)
	if !proto.Equal(c, sc) {
		t.Fatalf("clone %v, want %v", c, sc)
	}
	c.Claims["k"] = "changed"
	c.Roles[0] = "changed"
	if sc.Claims["k"] == "changed" || sc.Roles[0] == "changed" {
		t.Error("the clone shares its claims or roles with the original")
	}
}
