package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// DefaultLockFile is the lock file's name, beside the configuration file.
const DefaultLockFile = "altar-mcp.lock.json"

// LockVersion is the lock file format's version.
const LockVersion = 1

// MaxLockBytes is the largest lock file read.
const MaxLockBytes = 64 << 20

// Lock is the lock file: every bridged server's pinned tool definitions. It
// is the trust root for MCP tools (see the package documentation).
type Lock struct {
	LockVersion int                    `json:"lock_version"`
	Servers     map[string]*LockServer `json:"servers"`
}

// LockServer is one server's pins, by MCP tool name.
type LockServer struct {
	Tools map[string]*Pin `json:"tools"`
}

// Pin is one approved tool definition.
type Pin struct {
	// SHA256 is Definition.SHA256(); a pin whose hash does not match its
	// definition (an edited lock file) is refused.
	SHA256     string     `json:"sha256"`
	ApprovedAt time.Time  `json:"approved_at"`
	Definition Definition `json:"definition"`
}

// ReadLock reads the lock file at path. A missing file is an empty lock.
// A damaged pin (its hash does not match its definition) fails the whole
// read: a damaged lock trusts nothing.
func ReadLock(path string) (*Lock, error) {
	l, damaged := readLock(path)
	if damaged != nil {
		return nil, damaged
	}
	return l, nil
}

// RepairLock reads the lock file at path, leaving out the pins that are
// damaged, which damaged reports (nil when there are none). A lock file
// that cannot be read at all is an error. Approving again re-pins what was
// left out.
func RepairLock(path string) (l *Lock, damaged, err error) {
	l, damaged = readLock(path)
	if l == nil {
		return nil, nil, damaged
	}
	return l, damaged, nil
}

func readLock(path string) (*Lock, error) {
	l := &Lock{LockVersion: LockVersion, Servers: map[string]*LockServer{}}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return nil, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG, err, "reading the MCP lock file")
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxLockBytes+1))
	if err != nil {
		return nil, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG, err, "reading the MCP lock file %s", path)
	}
	if len(data) > MaxLockBytes {
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG, "the MCP lock file %s is larger than %d bytes", path, MaxLockBytes)
	}
	return parseLock(path, data)
}

func parseLock(path string, data []byte) (*Lock, error) {
	l := &Lock{}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(l); err != nil {
		return nil, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG, err, "the MCP lock file %s is not a lock file", path)
	}
	e := altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG, "the MCP lock file %s is damaged", path)
	if l.LockVersion != LockVersion {
		e.WithField("/lock_version", "value", fmt.Sprintf("%d: this gateway reads version %d", l.LockVersion, LockVersion))
		return nil, e
	}
	if l.Servers == nil {
		l.Servers = map[string]*LockServer{}
	}
	for name, s := range l.Servers {
		if s == nil || s.Tools == nil {
			l.Servers[name] = &LockServer{Tools: map[string]*Pin{}}
			continue
		}
		for tool, p := range s.Tools {
			at := "/servers/" + name + "/tools/" + tool
			if p == nil {
				e.WithField(at, "required", "the pin is empty")
				delete(s.Tools, tool)
				continue
			}
			if p.Definition.Name != tool {
				e.WithField(at+"/definition/name", "value", fmt.Sprintf("%q is pinned under the name %q", p.Definition.Name, tool))
				delete(s.Tools, tool)
				continue
			}
			d, err := recanonical(p.Definition)
			if err != nil {
				e.WithField(at+"/definition", "value", err.Error())
				delete(s.Tools, tool)
				continue
			}
			p.Definition = d
			if d.SHA256() != p.SHA256 {
				e.WithField(at+"/sha256", "sha256", "does not match the pinned definition: the lock file was edited; `altar contracts approve "+name+" "+tool+"` pins the tool again")
				delete(s.Tools, tool)
			}
		}
	}
	if len(e.Fields) > 0 {
		return l, e
	}
	return l, nil
}

// recanonical re-encodes a definition read from a file canonically.
func recanonical(d Definition) (Definition, error) {
	var err error
	for _, raw := range []*json.RawMessage{&d.InputSchema, &d.OutputSchema, &d.Annotations} {
		if len(*raw) == 0 {
			continue
		}
		if *raw, err = canonical(*raw, MaxLockBytes); err != nil {
			return d, err
		}
	}
	return d, nil
}

// Write writes the lock file at path atomically (a temporary file renamed
// over it).
func (l *Lock) Write(path string) error {
	l.LockVersion = LockVersion
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INTERNAL, err, "writing the MCP lock file")
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INTERNAL, err, "writing the MCP lock file")
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INTERNAL, err, "writing the MCP lock file %s", path)
	}
	return nil
}

// lockFiles serialises the read-modify-write of each lock file among the
// bridges of one process (several servers share one file). Keyed by path.
var lockFiles sync.Map

// updateLock runs update on the lock file at path and writes it when
// update reports a change, holding the file's in-process mutex.
func updateLock(path string, update func(*Lock) (bool, error)) (*Lock, error) {
	mu, _ := lockFiles.LoadOrStore(filepath.Clean(path), &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	l, err := ReadLock(path)
	if err != nil {
		return nil, err
	}
	changed, err := update(l)
	if err != nil || !changed {
		return l, err
	}
	return l, l.Write(path)
}

// Server returns the server's pins, nil when it was never imported.
func (l *Lock) Server(name string) *LockServer { return l.Servers[name] }

// Kinds of Change.
const (
	ChangeNone    = "pinned"  // the live definition is the pinned one
	ChangeNew     = "new"     // a tool with no pin
	ChangeChanged = "changed" // the live definition differs from its pin
	ChangeRemoved = "removed" // a pinned tool the server no longer lists
)

// Change compares one tool's live definition with its pin.
type Change struct {
	Tool string
	Kind string
	// Fields name what differs for ChangeChanged: title, description,
	// inputSchema, outputSchema, annotations.
	Fields []string
	Pinned *Definition // nil for ChangeNew
	Live   *Definition // nil for ChangeRemoved
}

// Diff compares a server's live tools with its pins, sorted by tool name.
func Diff(pins *LockServer, live []Definition) []Change {
	var out []Change
	seen := map[string]bool{}
	for i := range live {
		d := &live[i]
		seen[d.Name] = true
		var p *Pin
		if pins != nil {
			p = pins.Tools[d.Name]
		}
		switch {
		case p == nil:
			out = append(out, Change{Tool: d.Name, Kind: ChangeNew, Live: d})
		case p.SHA256 == d.SHA256():
			out = append(out, Change{Tool: d.Name, Kind: ChangeNone, Pinned: &p.Definition, Live: d})
		default:
			out = append(out, Change{Tool: d.Name, Kind: ChangeChanged, Fields: changedFields(p.Definition, *d), Pinned: &p.Definition, Live: d})
		}
	}
	if pins != nil {
		for name, p := range pins.Tools {
			if !seen[name] {
				out = append(out, Change{Tool: name, Kind: ChangeRemoved, Pinned: &p.Definition})
			}
		}
	}
	slices.SortFunc(out, func(a, b Change) int {
		switch {
		case a.Tool < b.Tool:
			return -1
		case a.Tool > b.Tool:
			return 1
		}
		return 0
	})
	return out
}

func changedFields(a, b Definition) []string {
	var out []string
	if a.Title != b.Title {
		out = append(out, "title")
	}
	if a.Description != b.Description {
		out = append(out, "description")
	}
	for _, f := range []struct {
		name string
		a, b json.RawMessage
	}{{"inputSchema", a.InputSchema, b.InputSchema}, {"outputSchema", a.OutputSchema, b.OutputSchema}, {"annotations", a.Annotations, b.Annotations}} {
		if !bytes.Equal(f.a, f.b) {
			out = append(out, f.name)
		}
	}
	return out
}

// Approve pins the live definitions of the named tools (every new or
// changed tool when none is named) and forgets pins of tools the server no
// longer lists when approving everything. It returns the tools whose pin
// changed. Naming a tool the server does not list is an error.
func (l *Lock) Approve(server string, live []Definition, now time.Time, tools ...string) ([]string, error) {
	s := l.Servers[server]
	if s == nil {
		s = &LockServer{Tools: map[string]*Pin{}}
		l.Servers[server] = s
	}
	changes := Diff(s, live)
	want := map[string]bool{}
	for _, t := range tools {
		want[t] = true
	}
	var done []string
	for _, c := range changes {
		if len(tools) > 0 && !want[c.Tool] {
			continue
		}
		delete(want, c.Tool)
		switch c.Kind {
		case ChangeNew, ChangeChanged:
			s.Tools[c.Tool] = &Pin{SHA256: c.Live.SHA256(), ApprovedAt: now.UTC(), Definition: *c.Live}
			done = append(done, c.Tool)
		case ChangeRemoved:
			delete(s.Tools, c.Tool)
			done = append(done, c.Tool)
		}
	}
	if len(want) > 0 {
		var missing []string
		for t := range want {
			missing = append(missing, t)
		}
		slices.Sort(missing)
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_NOT_FOUND,
			"MCP server %q lists no tool named %q", server, missing[0]).WithDetail("tool", missing[0])
	}
	return done, nil
}
