package launch

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
)

type record struct {
	Level  string `json:"level"`
	Msg    string `json:"msg"`
	Line   string `json:"line"`
	Plugin string `json:"plugin"`
}

func logged(t *testing.T, buf *bytes.Buffer) []record {
	t.Helper()
	var out []record
	for _, l := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var r record
		if err := json.Unmarshal(l, &r); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		out = append(out, r)
	}
	return out
}

func newOutput(buf *bytes.Buffer) *outputLogger {
	log := slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})).With("plugin", "p")
	return &outputLogger{log: log, stream: "stderr"}
}

func TestOutputLoggerLines(t *testing.T) {
	var buf bytes.Buffer
	w := newOutput(&buf)
	// go-plugin writes a line and its newline in separate writes.
	for _, chunk := range []string{"first", "\n", "sec", "ond\nthird\r\n", "\n", "  \n", "time=x level=WARN msg=careful\n", `{"level":"error","msg":"bad"}` + "\n", "[DEBUG] chatty\n", "panic: boom\n", "tail"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	w.flush()
	want := []record{
		{"INFO", "plugin stderr", "first", "p"},
		{"INFO", "plugin stderr", "second", "p"},
		{"INFO", "plugin stderr", "third", "p"},
		{"WARN", "plugin stderr", "time=x level=WARN msg=careful", "p"},
		{"ERROR", "plugin stderr", `{"level":"error","msg":"bad"}`, "p"},
		{"DEBUG", "plugin stderr", "[DEBUG] chatty", "p"},
		{"ERROR", "plugin stderr", "panic: boom", "p"},
		{"INFO", "plugin stderr", "tail", "p"},
	}
	got := logged(t, &buf)
	if len(got) != len(want) {
		t.Fatalf("got %d records %+v; want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d = %+v; want %+v", i, got[i], want[i])
		}
	}
}

func TestOutputLoggerBoundsLines(t *testing.T) {
	var buf bytes.Buffer
	w := newOutput(&buf)
	long := strings.Repeat("x", 2*maxLine+10)
	_, _ = w.Write([]byte(long))
	_, _ = w.Write([]byte(long + "\n"))
	w.flush()
	total := 0
	for _, r := range logged(t, &buf) {
		if len(r.Line) > maxLine {
			t.Fatalf("a record of %d bytes; want at most %d", len(r.Line), maxLine)
		}
		total += len(r.Line)
	}
	if total != 2*len(long) {
		t.Fatalf("logged %d bytes of %d", total, 2*len(long))
	}
}

func TestHCLogAdapter(t *testing.T) {
	var buf bytes.Buffer
	a := &hclogAdapter{log: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), dropName: "calc"}
	a.Warn("stdio service not available, stdout/stderr syncing unavailable")
	a.Warn("something odd", "k", "v")
	a.Named("stdio").Error("broken")
	stderr := a.Named("calc")
	if stderr.GetLevel() != hclog.Off {
		t.Fatal("the executable's logger (go-plugin's copy of stderr) is not off")
	}
	stderr.Error("a stderr line go-plugin re-logs")
	got := logged(t, &buf)
	want := []string{"DEBUG", "WARN", "WARN"}
	if len(got) != len(want) {
		t.Fatalf("records %+v; want %d", got, len(want))
	}
	for i, lvl := range want {
		if got[i].Level != lvl {
			t.Errorf("record %d %+v; want level %s", i, got[i], lvl)
		}
	}
}

// FuzzOutputLogger feeds a plugin's untrusted output, in arbitrary
// pieces, to the line logger: it must never panic, never log a record
// longer than maxLine.
func FuzzOutputLogger(f *testing.F) {
	f.Add([]byte("hello\nworld\n"), uint8(3))
	f.Add([]byte("level=ERROR\r\n\n[WARN] x"), uint8(1))
	f.Add([]byte(`{"level":"`), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, cut uint8) {
		var buf bytes.Buffer
		w := newOutput(&buf)
		n := int(cut)%8 + 1
		for i := 0; i < len(data); i += n {
			_, _ = w.Write(data[i:min(i+n, len(data))])
		}
		w.flush()
		for _, r := range logged(t, &buf) {
			// Invalid UTF-8 is logged as U+FFFD, one rune per byte.
			if n := utf8.RuneCountInString(r.Line); n > maxLine {
				t.Fatalf("a record of %d runes", n)
			}
		}
	})
}
