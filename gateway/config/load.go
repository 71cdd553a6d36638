package config

import (
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Setting sets one key from outside the file and the environment, such as a
// command-line flag. Value is written as the key's environment variable
// would be.
type Setting struct {
	// Path is the key: "grpc.addr".
	Path string
	// Value is the value in the variable's syntax.
	Value string
	// Source names where it came from for error messages: "--grpc-addr".
	Source string
}

// Rules of the field errors Load reports.
const (
	RuleSyntax  = "syntax"  // the file is not YAML
	RuleFile    = "file"    // the file cannot be read
	RuleUnknown = "unknown" // no such key or variable
	RuleKind    = "kind"    // the wrong YAML kind, or a value that does not parse
	RuleValue   = "value"   // a value outside what the key allows
)

// origin is where a key's value came from.
type origin struct {
	file      string
	line, col int
	source    string // the variable or flag, when not the file
}

type loader struct {
	file   string
	err    *altarerr.Error
	origin map[string]origin
}

// maxGCHeapFloorMB bounds gc_heap_floor_mb (64 GiB).
const maxGCHeapFloorMB = 64 << 10

func (l *loader) fail(o origin, path, rule, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if o.source != "" {
		msg = "from " + o.source + ": " + msg
	}
	l.err.Fields = append(l.err.Fields, &altarv1.FieldError{
		Path: path, Rule: rule, Message: msg,
		File: o.file, Line: uint32(max(o.line, 0)), Column: uint32(max(o.col, 0)),
	})
}

// Load returns the configuration: the defaults, then the file at path (none
// when path is empty and env has no ALTAR_CONFIG), then the ALTAR_*
// variables of env ("NAME=value" strings, as os.Environ gives), then the
// settings in order. Every problem found is reported at once in one
// *altarerr.Error with code ERROR_CODE_INVALID_CONFIG.
func Load(path string, env []string, settings ...Setting) (*File, error) {
	if path == "" {
		for _, kv := range env {
			if name, value, _ := strings.Cut(kv, "="); name == EnvConfig {
				path = value
			}
		}
	}
	f := Default()
	l := &loader{
		file:   path,
		err:    altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG, "invalid configuration"),
		origin: map[string]origin{},
	}
	if path != "" {
		l.err.Message = "invalid configuration (" + path + ")"
		data, err := os.ReadFile(path)
		if err != nil {
			l.fail(origin{file: path}, "", RuleFile, "%v", unwrapPathError(err))
		} else {
			l.decodeFile(data, f)
		}
	}
	l.environment(env, f)
	byPath := make(map[string]Variable, len(variables))
	for _, v := range variables {
		byPath[v.Path] = v
	}
	for _, s := range settings {
		v, ok := byPath[s.Path]
		if !ok {
			l.fail(origin{source: s.Source}, s.Path, RuleUnknown, "no such configuration key")
			continue
		}
		l.setString(v, s.Value, origin{source: s.Source}, f)
	}
	l.check(f)
	if len(l.err.Fields) == 0 {
		// The rules between keys, once every value is good (a bad value
		// has left its default in place, which would mislead them).
		l.crossCheck(f)
	}
	if len(l.err.Fields) > 0 {
		return nil, l.err
	}
	return f, nil
}

// hostPaths renames the paths of gateway.Config.Validate's field errors
// that differ from the file's keys.
var hostPaths = map[string]string{"grpc_addr": "grpc.addr", "http_addr": "http.addr"}

// crossCheck runs gateway.Config.Validate and reports its field errors at
// the file's key paths, with where each value came from.
func (l *loader) crossCheck(f *File) {
	err := f.Config().Validate()
	var e *altarerr.Error
	if !errors.As(err, &e) {
		if err != nil {
			l.fail(origin{}, "", RuleValue, "%v", err)
		}
		return
	}
	for _, fe := range e.Fields {
		path := cmp.Or(hostPaths[fe.GetPath()], fe.GetPath())
		l.fail(l.nearestOrigin(path), path, fe.GetRule(), "%s", fe.GetMessage())
	}
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// environment applies the ALTAR_* variables of env.
func (l *loader) environment(env []string, f *File) {
	byName := make(map[string]Variable, len(variables))
	for _, v := range variables {
		byName[v.Name] = v
	}
	// Later duplicates win, as in a process environment.
	values := map[string]string{}
	var names []string
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) || slices.Contains(notKeys, name) {
			continue
		}
		if _, seen := values[name]; !seen {
			names = append(names, name)
		}
		values[name] = value
	}
	for _, name := range names {
		o := origin{source: name}
		v, ok := byName[name]
		if !ok {
			hint := ""
			if near := nearest(name); near != "" {
				hint = "; did you mean " + near + "?"
			}
			l.fail(origin{}, "", RuleUnknown, "%s matches no configuration key%s (the keys and their variables are in docs/configuration.md)", name, hint)
			continue
		}
		l.setString(v, values[name], o, f)
	}
}

// nearest is the known variable closest to name, if it is close.
func nearest(name string) string {
	best, bestD := "", 4
	for _, v := range variables {
		if d := distance(name, v.Name); d < bestD {
			best, bestD = v.Name, d
		}
	}
	return best
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// setString sets the key v from a string in the variable syntax.
func (l *loader) setString(v Variable, s string, o origin, f *File) {
	field := reflect.ValueOf(f).Elem().FieldByIndex(v.index)
	switch v.Kind {
	case "string":
		field.SetString(s)
	case "int":
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			l.fail(o, v.Path, RuleKind, "%q is not a whole number", s)
			return
		}
		field.SetInt(int64(n))
	case "float":
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
			l.fail(o, v.Path, RuleKind, "%q is not a number", s)
			return
		}
		field.SetFloat(x)
	case "duration":
		d, err := parseDuration(s)
		if err != nil {
			l.fail(o, v.Path, RuleKind, "%v", err)
			return
		}
		field.SetInt(int64(d))
	case "map":
		var m map[string]string
		if strings.TrimSpace(s) != "" {
			m = map[string]string{}
			for i, item := range strings.Split(s, ",") {
				name, value, ok := strings.Cut(item, "=")
				name, value = strings.TrimSpace(name), strings.TrimSpace(value)
				if !ok || name == "" {
					l.fail(o, v.Path, RuleKind, "item %d: want name=value, got %q", i+1, strings.TrimSpace(item))
					return
				}
				if _, dup := m[name]; dup {
					l.fail(o, v.Path+"."+name, RuleKind, "%q is given twice", name)
					return
				}
				m[name] = value
			}
		}
		field.Set(reflect.ValueOf(m))
	case "list":
		var list []string
		if strings.TrimSpace(s) != "" {
			for _, item := range strings.Split(s, ",") {
				list = append(list, strings.TrimSpace(item))
			}
		}
		field.Set(reflect.ValueOf(list))
	case "keys":
		var keys []Key
		if strings.TrimSpace(s) != "" {
			for i, item := range strings.Split(s, ",") {
				parts := strings.Split(strings.TrimSpace(item), ":")
				if len(parts) != 3 {
					l.fail(o, fmt.Sprintf("%s[%d]", v.Path, i), RuleKind, "want id:role:hash, got %d part(s)", len(parts))
					return
				}
				keys = append(keys, Key{ID: parts[0], Role: parts[1], Hash: parts[2]})
			}
		}
		field.Set(reflect.ValueOf(keys))
	}
	l.origin[v.Path] = o
	switch v.Kind {
	case "keys":
		for i := range field.Len() {
			l.origin[fmt.Sprintf("%s[%d]", v.Path, i)] = o
		}
	case "map":
		for _, k := range field.MapKeys() {
			l.origin[v.Path+"."+k.String()] = o
		}
	}
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration; write it as a number with a unit: \"30s\", \"5m\", \"1h30m\"", s)
	}
	return d, nil
}

// check refuses values outside what each key allows. Rules that span keys
// are gateway.Config.Validate's.
func (l *loader) check(f *File) {
	at := func(path string) origin { return l.origin[path] }
	nonEmpty := func(path, v string) {
		if strings.TrimSpace(v) == "" {
			l.fail(at(path), path, RuleValue, "must not be empty")
		}
	}
	oneOf := func(path, v string, allowed []string) {
		if !slices.Contains(allowed, v) {
			l.fail(at(path), path, RuleValue, "%q must be one of %s", v, strings.Join(allowed, ", "))
		}
	}
	addr := func(path, v string) {
		if path == "http.addr" && v == HTTPOff {
			return
		}
		_, port, err := net.SplitHostPort(v)
		if err != nil {
			l.fail(at(path), path, RuleValue, "%q is not host:port: %s", v, unwrapAddrError(err))
			return
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			l.fail(at(path), path, RuleValue, "%q: the port must be a number from 0 to 65535 (0 picks a free one)", v)
		}
	}
	positive := func(path string, d Duration) {
		if d <= 0 {
			l.fail(at(path), path, RuleValue, "%v must be longer than zero", d)
		}
	}

	nonEmpty("host_id", f.HostID)
	oneOf("mode", f.Mode, modes)
	for i, m := range f.Manifests {
		if strings.TrimSpace(m) == "" {
			p := fmt.Sprintf("manifests[%d]", i)
			l.fail(cmp.Or(l.origin[p], at("manifests")), p, RuleValue, "an empty path")
		}
	}
	addr("grpc.addr", f.GRPC.Addr)
	addr("http.addr", f.HTTP.Addr)
	ids := map[string]int{}
	for i, k := range f.Keys {
		p := fmt.Sprintf("keys[%d]", i)
		o := cmp.Or(l.origin[p], at("keys"))
		po := func(field string) origin { return cmp.Or(l.origin[p+"."+field], o) }
		if k.ID == "" {
			l.fail(po("id"), p+".id", RuleValue, "must not be empty")
		} else if j, dup := ids[k.ID]; dup {
			l.fail(po("id"), p+".id", RuleValue, "%q is also the id of keys[%d]", k.ID, j)
		} else {
			ids[k.ID] = i
		}
		if !slices.Contains(roles, k.Role) {
			l.fail(po("role"), p+".role", RuleValue, "%q must be one of %s", k.Role, strings.Join(roles, ", "))
		}
		if sum, err := hex.DecodeString(k.Hash); err != nil || len(sum) != 32 {
			// Never echo the value: it may be a secret pasted by mistake.
			l.fail(po("hash"), p+".hash", RuleValue, "must be the 64 hex characters of the key's SHA-256 (`altar keys hash` prints it), not the key itself")
		}
	}
	positive("sessions.default_ttl", f.Sessions.DefaultTTL)
	positive("sessions.max_ttl", f.Sessions.MaxTTL)
	if f.Sessions.MaxSessions <= 0 {
		l.fail(at("sessions.max_sessions"), "sessions.max_sessions", RuleValue, "%d must be at least 1", f.Sessions.MaxSessions)
	}
	positive("sessions.sweep_interval", f.Sessions.SweepInterval)
	positive("runtimes.heartbeat_interval", f.Runtimes.HeartbeatInterval)
	positive("runtimes.heartbeat_timeout", f.Runtimes.HeartbeatTimeout)
	positive("invoke.default_timeout", f.Invoke.DefaultTimeout)
	positive("invoke.max_timeout", f.Invoke.MaxTimeout)
	positive("invoke.idempotency_window", f.Invoke.IdempotencyWindow)
	oneOf("log.level", f.Log.Level, logLevels)
	if f.GCHeapFloorMB < 0 || f.GCHeapFloorMB > maxGCHeapFloorMB {
		l.fail(at("gc_heap_floor_mb"), "gc_heap_floor_mb", RuleValue, "%d must be from 0 (Go's default) to %d", f.GCHeapFloorMB, maxGCHeapFloorMB)
	}
	oneOf("log.format", f.Log.Format, logFormats)
	l.checkInvoke(f)
	l.checkPlugins(f)
	l.checkMCPServers(f)
}

// checkInvoke refuses limits, retry and breaker values outside what each
// key allows. The rules between keys (a queue with no concurrency, a
// max_backoff shorter than base_backoff) and the names in limits and
// default_runtimes are gateway.Config.Validate's.
func (l *loader) checkInvoke(f *File) {
	fail := func(path, format string, args ...any) {
		l.fail(l.nearestOrigin(path), path, RuleValue, format, args...)
	}
	limit := func(path string, lim Limit) {
		if lim.Concurrency < 0 {
			fail(path+".concurrency", "%d must be 0 (no limit) or more", lim.Concurrency)
		}
		if lim.Queue < 0 {
			fail(path+".queue", "%d must be 0 (no queue) or more", lim.Queue)
		}
	}
	lim := f.Invoke.Limits
	limit("invoke.limits.per_tool", lim.PerTool)
	limit("invoke.limits.per_runtime", lim.PerRuntime)
	for _, name := range slices.Sorted(maps.Keys(lim.Tools)) {
		limit("invoke.limits.tools."+name, lim.Tools[name])
	}
	for _, name := range slices.Sorted(maps.Keys(lim.Runtimes)) {
		limit("invoke.limits.runtimes."+name, lim.Runtimes[name])
	}

	r := f.Invoke.Retry
	if r.MaxAttempts < 1 {
		fail("invoke.retry.max_attempts", "%d must be at least 1 (1 is no retry)", r.MaxAttempts)
	}
	for _, d := range []struct {
		path string
		d    Duration
	}{{"invoke.retry.base_backoff", r.BaseBackoff}, {"invoke.retry.max_backoff", r.MaxBackoff}} {
		if d.d <= 0 {
			fail(d.path, "%v must be longer than zero", d.d)
		}
	}
	if r.Jitter < 0 || r.Jitter > 1 {
		fail("invoke.retry.jitter", "%v must be from 0 (no jitter) to 1", r.Jitter)
	}

	b := f.Invoke.Breaker
	for _, c := range []struct {
		path string
		n    int
	}{{"invoke.breaker.consecutive_failures", b.ConsecutiveFailures}, {"invoke.breaker.half_open_requests", b.HalfOpenRequests}} {
		if c.n < 1 || c.n > math.MaxUint32 {
			fail(c.path, "%d must be from 1 to %d", c.n, uint32(math.MaxUint32))
		}
	}
	if b.OpenTimeout <= 0 {
		fail("invoke.breaker.open_timeout", "%v must be longer than zero", b.OpenTimeout)
	}
	if b.Interval < 0 {
		fail("invoke.breaker.interval", "%v must not be negative (0 keeps counting until a success)", b.Interval)
	}
}

// checkPlugins reports each plugin's field errors (launch.Config.Validate)
// at its key path, and names given twice.
func (l *loader) checkPlugins(f *File) {
	names := map[string]int{}
	for i, p := range f.Plugins {
		path := fmt.Sprintf("plugins[%d]", i)
		at := func(field string) origin {
			// The field, else its list (env[2] -> env), else its section
			// (restart.budget -> restart), else the plugin.
			base, _, _ := strings.Cut(field, "[")
			section, _, _ := strings.Cut(field, ".")
			for _, k := range []string{field, base, section} {
				if o, ok := l.origin[path+"."+k]; ok {
					return o
				}
			}
			return l.origin[path]
		}
		var e *altarerr.Error
		if err := p.Launch().Validate(); errors.As(err, &e) {
			for _, fe := range e.Fields {
				l.fail(at(fe.GetPath()), path+"."+fe.GetPath(), RuleValue, "%s", fe.GetMessage())
			}
		}
		if j, dup := names[p.Name]; dup && p.Name != "" {
			l.fail(at("name"), path+".name", RuleValue, "%q is also the name of plugins[%d]", p.Name, j)
		} else {
			names[p.Name] = i
		}
	}
}

func unwrapAddrError(err error) string {
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return ae.Err
	}
	return err.Error()
}
