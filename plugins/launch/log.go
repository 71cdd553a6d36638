package launch

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// maxLine bounds one line of a plugin's output kept for the log; a longer
// line is logged in pieces of this size.
const maxLine = 16 << 10

// outputLogger turns a plugin's output (its standard error, or what a
// go-plugin Go plugin forwards over go-plugin's stdio service) into log
// records, one a line, with the plugin's name (the logger's attributes). The level is
// read from the line when it says one (slog's level=WARN, JSON "level",
// hclog's [WARN], a Go panic), else Info. It is an io.Writer that go-plugin
// writes to from its own goroutines.
type outputLogger struct {
	log    *slog.Logger
	stream string

	mu  sync.Mutex
	buf []byte
}

func (w *outputLogger) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			for len(w.buf) >= maxLine {
				w.emit(w.buf[:maxLine])
				w.buf = append(w.buf[:0], w.buf[maxLine:]...)
			}
			break
		}
		w.buf = append(w.buf, p[:i]...)
		p = p[i+1:]
		for len(w.buf) > maxLine {
			w.emit(w.buf[:maxLine])
			w.buf = w.buf[maxLine:]
		}
		w.emit(w.buf)
		w.buf = w.buf[:0]
	}
	return n, nil
}

// flush logs a last line that had no newline.
func (w *outputLogger) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(w.buf)
		w.buf = w.buf[:0]
	}
}

func (w *outputLogger) emit(line []byte) {
	s := strings.TrimRight(string(line), "\r")
	if strings.TrimSpace(s) == "" {
		return
	}
	w.log.Log(context.Background(), lineLevel(s), "plugin "+w.stream, "line", s)
}

// lineLevel is the level a line of output says it has.
func lineLevel(s string) slog.Level {
	word := ""
	switch {
	case strings.HasPrefix(s, "panic: "), strings.HasPrefix(s, "fatal error: "):
		return slog.LevelError
	case strings.HasPrefix(s, "["):
		if end := strings.IndexByte(s, ']'); end > 0 {
			word = s[1:end]
		}
	default:
		for _, key := range []string{"level=", `"level":"`, `"@level":"`} {
			if i := strings.Index(s, key); i >= 0 {
				rest := s[i+len(key):]
				end := strings.IndexAny(rest, ` "`)
				if end < 0 {
					end = len(rest)
				}
				word = rest[:end]
				break
			}
		}
	}
	switch strings.ToUpper(word) {
	case "ERROR", "ERR", "FATAL", "CRITICAL":
		return slog.LevelError
	case "WARN", "WARNING":
		return slog.LevelWarn
	case "DEBUG", "TRACE":
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// hclogAdapter is go-plugin's logger, writing to slog. go-plugin's own
// messages are mostly its internals and go to Debug, except for those
// that say something went wrong. The plugin's standard error, which
// go-plugin also re-logs through a logger named after the executable, is
// dropped here: outputLogger logs it.
type hclogAdapter struct {
	log      *slog.Logger
	name     string
	dropName string // the executable's base name
	drop     bool
	implied  []any
}

// quietMessages are go-plugin's messages about what ALTAR plugins never
// serve (its stdio and controller services), and about a process exit the
// supervisor logs itself.
var quietMessages = map[string]bool{
	"stdio service not available, stdout/stderr syncing unavailable": true,
	"stdio service unavailable, run will do nothing":                 true,
	"plugin process exited":                                          true,
	"plugin failed to exit gracefully":                               true,
}

func (a *hclogAdapter) Log(level hclog.Level, msg string, args ...any) {
	if a.drop {
		return
	}
	l := slog.LevelDebug
	if level >= hclog.Warn && !quietMessages[msg] {
		l = slog.LevelWarn
	}
	args = append(append([]any{"component", "go-plugin"}, a.implied...), args...)
	a.log.Log(context.Background(), l, msg, args...)
}

func (a *hclogAdapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }
func (a *hclogAdapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }
func (a *hclogAdapter) Info(msg string, args ...any)  { a.Log(hclog.Info, msg, args...) }
func (a *hclogAdapter) Warn(msg string, args ...any)  { a.Log(hclog.Warn, msg, args...) }
func (a *hclogAdapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }
func (a *hclogAdapter) IsTrace() bool                 { return false }
func (a *hclogAdapter) IsDebug() bool                 { return !a.drop }
func (a *hclogAdapter) IsInfo() bool                  { return !a.drop }
func (a *hclogAdapter) IsWarn() bool                  { return !a.drop }
func (a *hclogAdapter) IsError() bool                 { return !a.drop }
func (a *hclogAdapter) ImpliedArgs() []any            { return a.implied }
func (a *hclogAdapter) Name() string                  { return a.name }
func (a *hclogAdapter) SetLevel(hclog.Level)          {}

func (a *hclogAdapter) With(args ...any) hclog.Logger {
	c := *a
	c.implied = append(append([]any(nil), a.implied...), args...)
	return &c
}

func (a *hclogAdapter) Named(name string) hclog.Logger {
	c := *a
	if a.name != "" {
		c.name = a.name + "." + name
	} else {
		c.name = name
	}
	c.drop = a.drop || name == a.dropName
	return &c
}

func (a *hclogAdapter) ResetNamed(name string) hclog.Logger {
	c := *a
	c.name = name
	c.drop = name == a.dropName
	return &c
}

func (a *hclogAdapter) GetLevel() hclog.Level {
	if a.drop {
		return hclog.Off
	}
	return hclog.Debug
}

func (a *hclogAdapter) StandardLogger(*hclog.StandardLoggerOptions) *log.Logger {
	if a.drop {
		return log.New(io.Discard, "", 0)
	}
	return slog.NewLogLogger(a.log.Handler(), slog.LevelDebug)
}

func (a *hclogAdapter) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	return a.StandardLogger(opts).Writer()
}

var _ hclog.Logger = (*hclogAdapter)(nil)
