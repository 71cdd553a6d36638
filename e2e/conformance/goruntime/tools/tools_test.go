package tools_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/altar-gateway/altar/e2e/conformance/goruntime/tools"
	"github.com/altar-gateway/altar/gateway/contract"
	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestToolsMirrorTheManifest holds the tool set to the manifest: one tool
// per contract, with the contract's description, streaming where it
// streams.
func TestToolsMirrorTheManifest(t *testing.T) {
	m, err := contract.LoadFile("../../manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	list := tools.New().List()
	var names []string
	for _, tl := range list {
		if err := tl.Err(); err != nil {
			t.Fatal(err)
		}
		names = append(names, tl.Name())
	}
	for _, c := range m.Contracts {
		i := slices.Index(names, c.Name())
		if i < 0 {
			t.Errorf("contract %s has no tool", c.Name())
			continue
		}
		if got, want := list[i].Contract().GetDescription(), c.Proto.GetDescription(); got != want {
			t.Errorf("%s: description\n got %q\nwant %q", c.Name(), got, want)
		}
		if list[i].Streaming() != c.Proto.GetSupportsStreaming() {
			t.Errorf("%s: streaming = %v", c.Name(), list[i].Streaming())
		}
	}
	if len(list) != len(m.Contracts) {
		t.Errorf("%d tools for %d contracts: %v", len(list), len(m.Contracts), names)
	}
}

func TestEchoAndDescribe(t *testing.T) {
	h, err := sdk.NewHandler(tools.New().List())
	if err != nil {
		t.Fatal(err)
	}
	blob := []byte{0, 1, 2, 0xff}
	args := map[string]*altarv1.Value{
		"text": {Kind: &altarv1.Value_NullValue{}},
		"big":  {Kind: &altarv1.Value_IntValue{IntValue: 1<<53 + 1}},
		"blob": {Kind: &altarv1.Value_BytesValue{BytesValue: blob}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res := h.Invoke(ctx, &altarv1.ToolCall{InvocationId: "e", ToolName: "conformance.echo", Parameters: args})
	want := &altarv1.Value{Kind: &altarv1.Value_ObjectValue{ObjectValue: &altarv1.ObjectValue{Fields: args}}}
	if !proto.Equal(res.GetPayload(), want) {
		t.Fatalf("echo = %v", res)
	}
	res = h.Invoke(ctx, &altarv1.ToolCall{InvocationId: "d", ToolName: "conformance.describe", Parameters: args})
	got := res.GetPayload().GetObjectValue().GetFields()
	sum := sha256.Sum256(blob)
	b := got["blob"].GetObjectValue().GetFields()
	switch {
	case len(got) != 3:
		t.Fatalf("describe = %v", res)
	case got["text"].GetObjectValue().GetFields()["kind"].GetStringValue() != "null":
		t.Fatalf("text = %v", got["text"])
	case b["kind"].GetStringValue() != "bytes" || b["length"].GetIntValue() != 4 || b["sha256"].GetStringValue() != hex.EncodeToString(sum[:]):
		t.Fatalf("blob = %v", got["blob"])
	}
}
