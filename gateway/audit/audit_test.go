package audit_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"

	"go.uber.org/goleak"

	"github.com/altar-gateway/altar/gateway/audit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLogSink(t *testing.T) {
	var buf bytes.Buffer
	sink := audit.LogSink{Logger: slog.New(slog.NewJSONHandler(&buf, nil))}
	sink.Record(audit.Event{Kind: audit.KindContractRegister, Actor: "rt", RuntimeID: "rt", Tool: "scratch", Outcome: "accepted",
		Detail: map[string]string{"session": "s1"}})
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line["level"] != "WARN" || line["kind"] != audit.KindContractRegister || line["tool"] != "scratch" ||
		line["detail.session"] != "s1" || line["session_id"] != nil {
		t.Fatalf("log line = %v", line)
	}
}

func TestRecorderAndMulti(t *testing.T) {
	a, b := &audit.Recorder{}, &audit.Recorder{}
	sink := audit.Multi(a, b, audit.Discard)
	sink.Record(audit.Event{Kind: audit.KindManifestLoad})
	sink.Record(audit.Event{Kind: audit.KindModeSwitch})
	for _, r := range []*audit.Recorder{a, b} {
		if got := r.Kinds(); len(got) != 2 || got[0] != audit.KindManifestLoad || got[1] != audit.KindModeSwitch {
			t.Fatalf("kinds = %v", got)
		}
	}
	events := a.Events()
	events[0].Kind = "changed"
	if a.Events()[0].Kind != audit.KindManifestLoad {
		t.Fatal("Events must return a copy")
	}
}
