package session_test

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/session"
	"github.com/altar-gateway/altar/gateway/session/sessiontest"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func TestNewRejectsBadOptions(t *testing.T) {
	store := session.NewMemoryStore()
	tests := []struct {
		name  string
		store session.Store
		opts  []session.Option
		want  string
	}{
		{"nil store", nil, nil, "nil store"},
		{"default above max", store, []session.Option{session.WithDefaultTTL(2 * time.Hour), session.WithMaxTTL(time.Hour)}, "default TTL"},
		{"default below minimum", store, []session.Option{session.WithDefaultTTL(time.Millisecond)}, "default TTL"},
		{"max below minimum", store, []session.Option{session.WithMaxTTL(time.Millisecond)}, "max TTL"},
		{"no session bound", store, []session.Option{session.WithMaxSessions(0)}, "max sessions"},
		{"no sweep interval", store, []session.Option{session.WithSweepInterval(0)}, "sweep interval"},
		{"zero metadata limit", store, []session.Option{session.WithMetadataLimits(session.MetadataLimits{MaxEntries: 1})}, "metadata limits"},
		{"nil clock", store, []session.Option{session.WithClock(nil)}, "WithClock(nil)"},
		{"nil logger", store, []session.Option{session.WithLogger(nil)}, "WithLogger(nil)"},
		{"nil listener", store, []session.Option{session.WithListener(nil)}, "WithListener(nil)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := session.New(tt.store, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, %v; want an error mentioning %q", m, err, tt.want)
			}
		})
	}
}

func TestNewDefaultTTLFollowsShorterMax(t *testing.T) {
	f := newFixture(t, session.WithMaxTTL(10*time.Minute))
	s := f.create(t, &altarv1.CreateSessionRequest{})
	if got := s.GetTtl().AsDuration(); got != 10*time.Minute {
		t.Fatalf("TTL = %v, want the max 10m (the default 30m is longer)", got)
	}
}

func TestCreate(t *testing.T) {
	sc := &altarv1.SecurityContext{
		PrincipalId: "alice", TenantId: "acme", Roles: []string{"admin"},
		Claims: map[string]string{"iss": "https://idp.example"}, AuthMethod: "jwt",
	}
	tests := []struct {
		name   string
		req    *altarv1.CreateSessionRequest
		sc     *altarv1.SecurityContext
		wantID string // "" means generated
	}{
		{"generated id", &altarv1.CreateSessionRequest{}, nil, ""},
		{"nil request", nil, nil, ""},
		{"generated id with security context", &altarv1.CreateSessionRequest{Metadata: map[string]string{"app": "cli"}}, sc, ""},
		{"proposed id", &altarv1.CreateSessionRequest{SessionId: "client-chosen_ID-1"}, sc, "client-chosen_ID-1"},
		{"proposed id of minimum length", &altarv1.CreateSessionRequest{SessionId: "abcdefgh"}, nil, "abcdefgh"},
		{"proposed id of maximum length", &altarv1.CreateSessionRequest{SessionId: strings.Repeat("x", 128)}, nil, strings.Repeat("x", 128)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			s, err := f.m.Create(f.ctx, tt.req, tt.sc)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			id := s.GetSessionId()
			if tt.wantID == "" {
				if !strings.HasPrefix(id, session.IDPrefix) || len(id) != len(session.IDPrefix)+26 || !session.ValidID(id) {
					t.Fatalf("generated id %q, want %q and 26 base32 characters", id, session.IDPrefix)
				}
			} else if id != tt.wantID {
				t.Fatalf("id = %q, want the proposed %q", id, tt.wantID)
			}
			want := &altarv1.Session{
				SessionId:       id,
				CreatedAt:       timestamppb.New(epoch),
				ExpiresAt:       timestamppb.New(epoch.Add(session.DefaultTTL)),
				LastAccessedAt:  timestamppb.New(epoch),
				Ttl:             durationpb.New(session.DefaultTTL),
				Metadata:        tt.req.GetMetadata(),
				SecurityContext: tt.sc,
			}
			if !proto.Equal(s, want) {
				t.Fatalf("Create = %v, want %v", s, want)
			}
			got, err := f.m.Get(f.ctx, id)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if !proto.Equal(got, want) {
				t.Fatalf("Get = %v, want %v", got, want)
			}
			if evs := plain(f.events.take()); len(evs) != 1 || evs[0] != (event{id, created, epoch}) {
				t.Fatalf("events = %v, want one CREATED", evs)
			}
		})
	}
}

func TestCreateGeneratesDistinctIDs(t *testing.T) {
	f := newFixture(t)
	seen := make(map[string]bool)
	for range 1000 {
		id := f.create(t, nil).GetSessionId()
		if seen[id] {
			t.Fatalf("id %q generated twice", id)
		}
		seen[id] = true
	}
}

func TestCreateRejectsBadIDs(t *testing.T) {
	tests := []struct{ name, id string }{
		{"too short", "abc1234"},
		{"too long", strings.Repeat("x", 129)},
		{"space", "ses id 123"},
		{"slash", "ses/12345678"},
		{"dot", "ses.12345678"},
		{"non-ASCII", "séssion-1234"},
		{"NUL", "ses_1234\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			_, err := f.m.Create(f.ctx, &altarv1.CreateSessionRequest{SessionId: tt.id}, nil)
			e := wantCode(t, "Create", err, altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST)
			if len(e.Fields) != 1 || e.Fields[0].GetPath() != "/session_id" {
				t.Fatalf("fields = %v, want one at /session_id", e.Fields)
			}
			if n, _ := f.m.Len(f.ctx); n != 0 {
				t.Fatalf("Len = %d after a refused Create", n)
			}
			if evs := f.events.take(); len(evs) != 0 {
				t.Fatalf("events = %v after a refused Create", evs)
			}
		})
	}
}

func TestCreateDuplicateID(t *testing.T) {
	f := newFixture(t)
	first := f.create(t, &altarv1.CreateSessionRequest{SessionId: "shared-id", Metadata: map[string]string{"n": "1"}})
	f.clock.Advance(time.Second)
	_, err := f.m.Create(f.ctx, &altarv1.CreateSessionRequest{SessionId: "shared-id", Metadata: map[string]string{"n": "2"}}, nil)
	e := wantCode(t, "second Create", err, altarv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS)
	if !strings.Contains(e.Message, `"shared-id"`) {
		t.Fatalf("message %q does not name the id", e.Message)
	}
	got, err := f.m.Get(f.ctx, "shared-id")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if !proto.Equal(got, first) {
		t.Fatalf("Get = %v, want the first session %v", got, first)
	}
	if evs := f.events.take(); len(evs) != 1 {
		t.Fatalf("events = %v, want only the first CREATED", plain(evs))
	}
}

func TestCreateTTL(t *testing.T) {
	const def, maxTTL = 10 * time.Minute, time.Hour
	tests := []struct {
		name string
		ttl  *durationpb.Duration
		want time.Duration // 0: INVALID_REQUEST
	}{
		{"absent is the default", nil, def},
		{"zero is the default", durationpb.New(0), def},
		{"within bounds", durationpb.New(5 * time.Minute), 5 * time.Minute},
		{"the maximum", durationpb.New(maxTTL), maxTTL},
		{"above the maximum is capped", durationpb.New(maxTTL + time.Nanosecond), maxTTL},
		{"years is capped", durationpb.New(10 * 365 * 24 * time.Hour), maxTTL},
		{"below the minimum is raised", durationpb.New(time.Millisecond), session.MinTTL},
		{"negative", durationpb.New(-time.Second), 0},
		{"malformed", &durationpb.Duration{Seconds: 1, Nanos: -1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, session.WithDefaultTTL(def), session.WithMaxTTL(maxTTL))
			s, err := f.m.Create(f.ctx, &altarv1.CreateSessionRequest{Ttl: tt.ttl}, nil)
			if tt.want == 0 {
				e := wantCode(t, "Create", err, altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST)
				if len(e.Fields) != 1 || e.Fields[0].GetPath() != "/ttl" {
					t.Fatalf("fields = %v, want one at /ttl", e.Fields)
				}
				return
			}
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if got := s.GetTtl().AsDuration(); got != tt.want {
				t.Fatalf("ttl = %v, want %v", got, tt.want)
			}
			if got := s.GetExpiresAt().AsTime(); !got.Equal(epoch.Add(tt.want)) {
				t.Fatalf("expires_at = %v, want %v", got, epoch.Add(tt.want))
			}
		})
	}
}

func TestTouchExtendsByTTL(t *testing.T) {
	f := newFixture(t)
	s := f.create(t, &altarv1.CreateSessionRequest{Ttl: durationpb.New(time.Minute)})
	id := s.GetSessionId()
	now := epoch
	for range 5 {
		// 50s per step: each step outlives the previous expiry only
		// because of the Touch before it.
		f.clock.Advance(50 * time.Second)
		now = now.Add(50 * time.Second)
		got, err := f.m.Touch(f.ctx, id)
		if err != nil {
			t.Fatalf("Touch at %v: %v", now, err)
		}
		if !got.GetLastAccessedAt().AsTime().Equal(now) || !got.GetExpiresAt().AsTime().Equal(now.Add(time.Minute)) {
			t.Fatalf("Touch at %v = accessed %v, expires %v; want %v, %v", now,
				got.GetLastAccessedAt().AsTime(), got.GetExpiresAt().AsTime(), now, now.Add(time.Minute))
		}
		if !got.GetCreatedAt().AsTime().Equal(epoch) || got.GetTtl().AsDuration() != time.Minute {
			t.Fatalf("Touch changed created_at or ttl: %v", got)
		}
	}
	// Get does not refresh.
	f.clock.Advance(50 * time.Second)
	if _, err := f.m.Get(f.ctx, id); err != nil {
		t.Fatalf("Get: %v", err)
	}
	f.clock.Advance(10 * time.Second)
	_, err := f.m.Get(f.ctx, id)
	wantCode(t, "Get a TTL after the last Touch", err, altarv1.ErrorCode_ERROR_CODE_SESSION_EXPIRED)
}

func TestExpiry(t *testing.T) {
	f := newFixture(t)
	s := f.create(t, &altarv1.CreateSessionRequest{Ttl: durationpb.New(time.Minute)})
	keep := f.create(t, &altarv1.CreateSessionRequest{Ttl: durationpb.New(time.Hour)})
	id := s.GetSessionId()
	f.events.take()

	f.clock.Advance(time.Minute - time.Nanosecond)
	if _, err := f.m.Get(f.ctx, id); err != nil {
		t.Fatalf("Get just before expiry: %v", err)
	}
	f.clock.Advance(time.Nanosecond)

	// Expired, not yet swept: SESSION_EXPIRED, hidden from List, not revived.
	_, err := f.m.Get(f.ctx, id)
	wantCode(t, "Get at expires_at", err, altarv1.ErrorCode_ERROR_CODE_SESSION_EXPIRED)
	_, err = f.m.Touch(f.ctx, id)
	wantCode(t, "Touch at expires_at", err, altarv1.ErrorCode_ERROR_CODE_SESSION_EXPIRED)
	_, err = f.m.Get(f.ctx, id)
	wantCode(t, "Get after Touch of an expired session", err, altarv1.ErrorCode_ERROR_CODE_SESSION_EXPIRED)
	resp, err := f.m.List(f.ctx, &altarv1.ListSessionsRequest{})
	if err != nil || len(resp.GetSessions()) != 1 || resp.GetSessions()[0].GetSessionId() != keep.GetSessionId() {
		t.Fatalf("List = %v, %v; want only the live session", resp, err)
	}
	if evs := f.events.take(); len(evs) != 0 {
		t.Fatalf("events before the sweep = %v", plain(evs))
	}

	// Swept: SESSION_NOT_FOUND, one EXPIRED event at expires_at.
	n, err := f.m.Sweep(f.ctx)
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1", n, err)
	}
	if evs := plain(f.events.take()); len(evs) != 1 || evs[0] != (event{id, expired, epoch.Add(time.Minute)}) {
		t.Fatalf("events = %v, want one EXPIRED at expires_at", evs)
	}
	_, err = f.m.Get(f.ctx, id)
	wantCode(t, "Get after the sweep", err, altarv1.ErrorCode_ERROR_CODE_SESSION_NOT_FOUND)
	_, err = f.m.Touch(f.ctx, id)
	wantCode(t, "Touch after the sweep", err, altarv1.ErrorCode_ERROR_CODE_SESSION_NOT_FOUND)
	err = f.m.Destroy(f.ctx, id)
	wantCode(t, "Destroy after the sweep", err, altarv1.ErrorCode_ERROR_CODE_SESSION_NOT_FOUND)
	if n, err := f.m.Sweep(f.ctx); err != nil || n != 0 {
		t.Fatalf("second Sweep = %d, %v; want 0", n, err)
	}
}

func TestDestroy(t *testing.T) {
	f := newFixture(t)
	a := f.create(t, &altarv1.CreateSessionRequest{Ttl: durationpb.New(time.Hour)}).GetSessionId()
	b := f.create(t, &altarv1.CreateSessionRequest{Ttl: durationpb.New(time.Minute)}).GetSessionId()
	f.events.take()

	f.clock.Advance(time.Minute)
	if err := f.m.Destroy(f.ctx, a); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	err := f.m.Destroy(f.ctx, a)
	wantCode(t, "second Destroy", err, altarv1.ErrorCode_ERROR_CODE_SESSION_NOT_FOUND)
	_, err = f.m.Get(f.ctx, a)
	wantCode(t, "Get after Destroy", err, altarv1.ErrorCode_ERROR_CODE_SESSION_NOT_FOUND)

	// b expired at this instant: destroying it removes it but reports expiry.
	err = f.m.Destroy(f.ctx, b)
	wantCode(t, "Destroy of an expired session", err, altarv1.ErrorCode_ERROR_CODE_SESSION_EXPIRED)
	_, err = f.m.Get(f.ctx, b)
	wantCode(t, "Get after Destroy of an expired session", err, altarv1.ErrorCode_ERROR_CODE_SESSION_NOT_FOUND)

	now := epoch.Add(time.Minute)
	want := plain([]*altarv1.SessionEvent{
		{SessionId: a, Kind: destroyed, At: timestamppb.New(now)},
		{SessionId: b, Kind: expired, At: timestamppb.New(now)},
	})
	if got := plain(f.events.take()); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("events = %v, want %v", got, want)
	}
	if n, _ := f.m.Sweep(f.ctx); n != 0 {
		t.Fatalf("Sweep found %d sessions; Destroy had removed both", n)
	}
}

func TestIDArguments(t *testing.T) {
	f := newFixture(t)
	ops := map[string]func(id string) error{
		"Get":     func(id string) error { _, err := f.m.Get(f.ctx, id); return err },
		"Touch":   func(id string) error { _, err := f.m.Touch(f.ctx, id); return err },
		"Destroy": func(id string) error { return f.m.Destroy(f.ctx, id) },
	}
	for name, op := range ops {
		wantCode(t, name+" of an empty id", op(""), altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST)
		wantCode(t, name+" of a malformed id", op("no such/id"), altarv1.ErrorCode_ERROR_CODE_SESSION_NOT_FOUND)
		wantCode(t, name+" of an unknown id", op("ses_unknown"), altarv1.ErrorCode_ERROR_CODE_SESSION_NOT_FOUND)
	}
}

func TestMaxSessions(t *testing.T) {
	f := newFixture(t, session.WithMaxSessions(3))
	var ids []string
	for _, ttl := range []time.Duration{2 * time.Minute, time.Minute, 3 * time.Minute} {
		ids = append(ids, f.create(t, &altarv1.CreateSessionRequest{Ttl: durationpb.New(ttl)}).GetSessionId())
	}
	exhausted := func(what string, retryAfter time.Duration) {
		t.Helper()
		_, err := f.m.Create(f.ctx, &altarv1.CreateSessionRequest{}, nil)
		e := wantCode(t, what, err, altarv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED)
		if e.RetryAfter != retryAfter || !e.Retryable() {
			t.Fatalf("%s: RetryAfter = %v (retryable %v), want %v", what, e.RetryAfter, e.Retryable(), retryAfter)
		}
	}
	exhausted("Create past the maximum", time.Minute) // the 1m session expires first
	f.clock.Advance(45 * time.Second)
	exhausted("Create 45s later", 15*time.Second)
	f.clock.Advance(14*time.Second + 900*time.Millisecond)
	exhausted("Create 100ms before an expiry", time.Second) // at least 1s

	// A proposed id that is taken is ALREADY_EXISTS even when full.
	_, err := f.m.Create(f.ctx, &altarv1.CreateSessionRequest{SessionId: ids[0]}, nil)
	wantCode(t, "Create of a taken id when full", err, altarv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS)

	// Once a session has expired, Create sweeps it to make room.
	f.clock.Advance(100 * time.Millisecond)
	f.events.take()
	s := f.create(t, &altarv1.CreateSessionRequest{Ttl: durationpb.New(time.Hour)})
	got := plain(f.events.take())
	want := []event{{ids[1], expired, epoch.Add(time.Minute)}, {s.GetSessionId(), created, epoch.Add(time.Minute)}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("events = %v, want %v", got, want)
	}

	// RetryAfter is at most a minute, however far the next expiry.
	if err := f.m.Destroy(f.ctx, ids[0]); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if err := f.m.Destroy(f.ctx, ids[2]); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	f.create(t, &altarv1.CreateSessionRequest{Ttl: durationpb.New(time.Hour)})
	f.create(t, &altarv1.CreateSessionRequest{Ttl: durationpb.New(time.Hour)})
	exhausted("Create with the next expiry an hour away", time.Minute)
	if n, _ := f.m.Len(f.ctx); n != 3 {
		t.Fatalf("Len = %d, want 3", n)
	}
}

func TestMetadataBounds(t *testing.T) {
	limits := session.MetadataLimits{MaxEntries: 3, MaxKeyBytes: 8, MaxValueBytes: 16, MaxTotalBytes: 40}
	const (
		invalid  = altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST
		tooLarge = altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE
	)
	tests := []struct {
		name     string
		md       map[string]string
		code     altarv1.ErrorCode // UNSPECIFIED: accepted
		wantPath string
		wantMsg  string
	}{
		{"none", nil, 0, "", ""},
		{"at every bound", map[string]string{"k1": strings.Repeat("v", 16), "k2": strings.Repeat("v", 6), "key3": ""}, 0, "", ""},
		{"too many entries", map[string]string{"a": "", "b": "", "c": "", "d": ""}, tooLarge, "/metadata", "4 entries"},
		{"key too long", map[string]string{"ok": "", "longerkey": "v"}, tooLarge, "/metadata/longerkey", `"longerkey"`},
		{"value too long", map[string]string{"big": strings.Repeat("v", 17)}, tooLarge, "/metadata/big", `"big"`},
		{"total too large", map[string]string{"a": strings.Repeat("v", 16), "b": strings.Repeat("v", 16), "c": strings.Repeat("v", 16)}, tooLarge, "/metadata/c", `"c"`},
		{"empty key", map[string]string{"": "v"}, invalid, "/metadata/", "empty key"},
		{"key not UTF-8", map[string]string{"k\xff": "v"}, invalid, "/metadata/k\xff", `"k\xff"`},
		{"value not UTF-8", map[string]string{"bad": "\xc3"}, invalid, "/metadata/bad", `"bad"`},
		{"key escaped in the path", map[string]string{"a/b~c": strings.Repeat("v", 17)}, tooLarge, "/metadata/a~1b~0c", `"a/b~c"`},
		{"first bad key in sorted order", map[string]string{"zz": strings.Repeat("v", 17), "aa": strings.Repeat("v", 17)}, tooLarge, "/metadata/aa", `"aa"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, session.WithMetadataLimits(limits))
			s, err := f.m.Create(f.ctx, &altarv1.CreateSessionRequest{Metadata: tt.md}, nil)
			if tt.code == altarv1.ErrorCode_ERROR_CODE_UNSPECIFIED {
				if err != nil {
					t.Fatalf("Create: %v", err)
				}
				if len(s.GetMetadata()) != len(tt.md) {
					t.Fatalf("metadata = %v, want %v", s.GetMetadata(), tt.md)
				}
				return
			}
			e := wantCode(t, "Create", err, tt.code)
			if !strings.Contains(e.Message, tt.wantMsg) {
				t.Fatalf("message %q does not contain %q", e.Message, tt.wantMsg)
			}
			if len(e.Fields) != 1 || e.Fields[0].GetPath() != tt.wantPath {
				t.Fatalf("fields = %v, want one at %q", e.Fields, tt.wantPath)
			}
		})
	}
}

func TestMetadataErrorShortensLongKey(t *testing.T) {
	f := newFixture(t)
	key := strings.Repeat("k", 10_000)
	_, err := f.m.Create(f.ctx, &altarv1.CreateSessionRequest{Metadata: map[string]string{key: "v"}}, nil)
	e := wantCode(t, "Create", err, altarv1.ErrorCode_ERROR_CODE_PAYLOAD_TOO_LARGE)
	if len(e.Message) > 200 || !strings.Contains(e.Message, strings.Repeat("k", 64)+`"…`) {
		t.Fatalf("message %q: want the key shortened to 64 bytes", e.Message)
	}
}

func TestReturnedSessionsAreCopies(t *testing.T) {
	f := newFixture(t)
	req := &altarv1.CreateSessionRequest{Metadata: map[string]string{"app": "cli"}}
	sc := &altarv1.SecurityContext{PrincipalId: "alice", Roles: []string{"reader"}, Claims: map[string]string{"sub": "alice"}}
	s, err := f.m.Create(f.ctx, req, sc)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	id := s.GetSessionId()
	want := proto.Clone(s).(*altarv1.Session)

	mutate := func(x *altarv1.Session) {
		x.SessionId = "changed"
		x.Metadata["app"] = "changed"
		x.ExpiresAt.Seconds++
		x.Ttl.Seconds++
		x.SecurityContext.PrincipalId = "mallory"
		x.SecurityContext.Roles[0] = "admin"
		x.SecurityContext.Claims["sub"] = "mallory"
	}
	req.Metadata["app"] = "changed"
	sc.Roles[0] = "admin"
	sc.Claims["sub"] = "mallory"
	mutate(s)
	got, err := f.m.Get(f.ctx, id)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	mutate(got)
	resp, err := f.m.List(f.ctx, &altarv1.ListSessionsRequest{})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, x := range resp.GetSessions() {
		mutate(x)
	}
	touched, err := f.m.Touch(f.ctx, id)
	if err != nil {
		t.Fatalf("Touch: %v", err)
	}
	mutate(touched)
	got, err = f.m.Get(f.ctx, id)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if !proto.Equal(got, want) {
		t.Fatalf("after changing every returned copy, Get = %v, want %v", got, want)
	}
}

func TestListPages(t *testing.T) {
	f := newFixture(t)
	var want []string
	for i := range 25 {
		// Every fifth session expires after 1s; List skips them.
		ttl := time.Hour
		if i%5 == 0 {
			ttl = time.Second
		}
		id := f.create(t, &altarv1.CreateSessionRequest{Ttl: durationpb.New(ttl)}).GetSessionId()
		if ttl == time.Hour {
			want = append(want, id)
		}
	}
	sortStrings(want)
	f.clock.Advance(time.Second)

	tests := []struct {
		size      int32
		wantPages []int
	}{
		{7, []int{7, 7, 6}},
		{10, []int{10, 10}}, // exactly full: no empty last page
		{20, []int{20}},
		{1, repeat(1, 20)},
		{0, []int{20}},                          // DefaultPageSize
		{session.MaxPageSize + 1000, []int{20}}, // capped, not refused
	}
	for _, tt := range tests {
		var got []string
		var pages []int
		token := ""
		for {
			resp, err := f.m.List(f.ctx, &altarv1.ListSessionsRequest{PageSize: tt.size, PageToken: token})
			if err != nil {
				t.Fatalf("List(size %d): %v", tt.size, err)
			}
			pages = append(pages, len(resp.GetSessions()))
			for _, s := range resp.GetSessions() {
				got = append(got, s.GetSessionId())
			}
			token = resp.GetNextPageToken()
			if token == "" {
				break
			}
		}
		if !equalInts(pages, tt.wantPages) {
			t.Fatalf("page size %d: pages of %v, want %v", tt.size, pages, tt.wantPages)
		}
		if !equalStrings(got, want) {
			t.Fatalf("page size %d: listed %v, want %v", tt.size, got, want)
		}
	}
}

func TestListRejectsBadRequests(t *testing.T) {
	f := newFixture(t)
	enc := base64.RawURLEncoding.EncodeToString
	tests := []struct {
		name string
		req  *altarv1.ListSessionsRequest
		path string
	}{
		{"negative page size", &altarv1.ListSessionsRequest{PageSize: -1}, "/page_size"},
		{"token not base64", &altarv1.ListSessionsRequest{PageToken: "!!!"}, "/page_token"},
		{"token of another format", &altarv1.ListSessionsRequest{PageToken: enc([]byte("v0:ses_12345678"))}, "/page_token"},
		{"token with a malformed id", &altarv1.ListSessionsRequest{PageToken: enc([]byte("v1:no"))}, "/page_token"},
		{"token too long", &altarv1.ListSessionsRequest{PageToken: strings.Repeat("A", 10_000)}, "/page_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.m.List(f.ctx, tt.req)
			e := wantCode(t, "List", err, altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST)
			if len(e.Fields) != 1 || e.Fields[0].GetPath() != tt.path {
				t.Fatalf("fields = %v, want one at %s", e.Fields, tt.path)
			}
		})
	}
}

func TestListWhileCreating(t *testing.T) {
	f := newFixture(t)
	before := make(map[string]bool)
	for range 300 {
		before[f.create(t, nil).GetSessionId()] = true
	}
	const creators, each = 4, 200
	done := make(chan error, creators)
	for range creators {
		go func() {
			for range each {
				if _, err := f.m.Create(f.ctx, nil, nil); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	seen := make(map[string]int)
	last := ""
	token := ""
	pages := 0
	for {
		resp, err := f.m.List(f.ctx, &altarv1.ListSessionsRequest{PageSize: 7, PageToken: token})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		pages++
		for _, s := range resp.GetSessions() {
			id := s.GetSessionId()
			if id <= last {
				t.Fatalf("List returned %q after %q: not in id order", id, last)
			}
			last = id
			seen[id]++
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	for range creators {
		if err := <-done; err != nil {
			t.Fatalf("concurrent Create: %v", err)
		}
	}
	for id := range before {
		if seen[id] != 1 {
			t.Fatalf("session %s, there before the listing began, was listed %d times", id, seen[id])
		}
	}
	t.Logf("listed %d sessions (%d there before) in %d pages", len(seen), len(before), pages)
}

func TestListener(t *testing.T) {
	// A listener may call back into the Manager: it runs outside any lock.
	var f *fixture
	var seen []string
	calledBack := func(ev *altarv1.SessionEvent) {
		_, err := f.m.Get(f.ctx, ev.GetSessionId())
		seen = append(seen, ev.GetKind().String()+" "+altarerr.CodeName(altarerr.CodeOf(err)))
		if ev.GetKind() == created && !strings.HasPrefix(ev.GetSessionId(), "nested-") {
			if _, err := f.m.Create(f.ctx, &altarv1.CreateSessionRequest{SessionId: "nested-" + ev.GetSessionId()}, nil); err != nil {
				t.Errorf("nested Create: %v", err)
			}
		}
	}
	f = newFixture(t, session.WithListener(calledBack))
	f.create(t, &altarv1.CreateSessionRequest{SessionId: "outer-1234", Ttl: durationpb.New(time.Minute)})
	if err := f.m.Destroy(f.ctx, "nested-outer-1234"); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	f.clock.Advance(time.Minute)
	if _, err := f.m.Sweep(f.ctx); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	want := []string{
		"SESSION_EVENT_KIND_CREATED UNSPECIFIED",         // outer-1234, inside its Create
		"SESSION_EVENT_KIND_CREATED UNSPECIFIED",         // nested-outer-1234
		"SESSION_EVENT_KIND_DESTROYED SESSION_NOT_FOUND", // nested-outer-1234
		"SESSION_EVENT_KIND_EXPIRED SESSION_NOT_FOUND",   // outer-1234
	}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Fatalf("listener saw\n%s\nwant\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
	// Both listeners got every event.
	if n := len(f.events.take()); n != 4 {
		t.Fatalf("the first listener got %d events, want 4", n)
	}
}

func TestClosed(t *testing.T) {
	f := newFixture(t)
	id := f.create(t, nil).GetSessionId()
	for range 2 {
		if err := f.m.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	const closed = altarv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION
	_, err := f.m.Create(f.ctx, nil, nil)
	wantCode(t, "Create after Close", err, closed)
	_, err = f.m.Get(f.ctx, id)
	wantCode(t, "Get after Close", err, closed)
	_, err = f.m.Touch(f.ctx, id)
	wantCode(t, "Touch after Close", err, closed)
	wantCode(t, "Destroy after Close", f.m.Destroy(f.ctx, id), closed)
	_, err = f.m.List(f.ctx, nil)
	wantCode(t, "List after Close", err, closed)
	_, err = f.m.Sweep(f.ctx)
	wantCode(t, "Sweep after Close", err, closed)
	if err := f.m.Run(f.ctx); err == nil {
		t.Fatal("Run after Close returned nil")
	}
	// The store is the caller's and still open.
	if _, err := f.store.Get(f.ctx, id); err != nil {
		t.Fatalf("store Get after Close: %v", err)
	}
}

// faultyStore fails the operations it is told to.
type faultyStore struct {
	*session.MemoryStore
	err error
}

func (s faultyStore) Get(ctx context.Context, id string) (*altarv1.Session, error) {
	return nil, s.err
}

func (s faultyStore) Create(ctx context.Context, x *altarv1.Session, limit int) error {
	return s.err
}

func TestStoreErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want altarv1.ErrorCode
	}{
		{"failure", errors.New("connection refused"), altarv1.ErrorCode_ERROR_CODE_INTERNAL},
		{"cancelled", context.Canceled, altarv1.ErrorCode_ERROR_CODE_CANCELLED},
		{"deadline", context.DeadlineExceeded, altarv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED},
		{"altar error", altarerr.New(altarv1.ErrorCode_ERROR_CODE_CONNECTION_LOST, "nats down"), altarv1.ErrorCode_ERROR_CODE_CONNECTION_LOST},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := session.New(faultyStore{session.NewMemoryStore(), tt.err}, session.WithLogger(slog.New(slog.DiscardHandler)))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer m.Close()
			_, err = m.Get(t.Context(), "ses_12345678")
			if e := wantCode(t, "Get", err, tt.want); !errors.Is(e, tt.err) && tt.want == altarv1.ErrorCode_ERROR_CODE_INTERNAL {
				t.Fatalf("Get error %v does not wrap the store's %v", e, tt.err)
			}
			_, err = m.Create(t.Context(), nil, nil)
			wantCode(t, "Create", err, tt.want)
		})
	}
}

func TestFakeClockTickers(t *testing.T) {
	c := sessiontest.NewClock(epoch)
	tk := c.NewTicker(10 * time.Second)
	defer tk.Stop()
	c.Advance(9 * time.Second)
	select {
	case <-tk.C():
		t.Fatal("ticked before its interval")
	default:
	}
	c.Advance(25 * time.Second) // three intervals passed: one tick kept
	if got := <-tk.C(); !got.Equal(epoch.Add(34 * time.Second)) {
		t.Fatalf("tick at %v", got)
	}
	select {
	case <-tk.C():
		t.Fatal("missed ticks were not dropped")
	default:
	}
	c.Advance(6 * time.Second) // next tick was due at +40s
	<-tk.C()
}
