package sessiontest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/altar-gateway/altar/gateway/session"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Epoch is the time the conformance tests start at.
var Epoch = time.Date(2030, time.January, 2, 3, 4, 5, 600, time.UTC)

// storeTimeout bounds every conformance test's store calls.
const storeTimeout = 30 * time.Second

// TestStore runs the conformance tests of the session.Store contract against
// stores made by newStore, a fresh empty store for each subtest. Every
// implementation's tests call it:
//
//	func TestMemoryStore(t *testing.T) {
//		sessiontest.TestStore(t, func() session.Store { return session.NewMemoryStore() })
//	}
func TestStore(t *testing.T, newStore func() session.Store) {
	tests := []struct {
		name string
		test func(t *testing.T, ctx context.Context, s session.Store)
	}{
		{"CreateGet", testCreateGet},
		{"CreateKeepsNoPointer", testCreateKeepsNoPointer},
		{"ReturnsCopies", testReturnsCopies},
		{"CreateDuplicate", testCreateDuplicate},
		{"CreateConcurrentSameID", testCreateConcurrentSameID},
		{"CreateLimit", testCreateLimit},
		{"CreateLimitConcurrent", testCreateLimitConcurrent},
		{"GetMissing", testGetMissing},
		{"Touch", testTouch},
		{"TouchExpired", testTouchExpired},
		{"Delete", testDelete},
		{"DeleteConcurrent", testDeleteConcurrent},
		{"List", testList},
		{"ListPages", testListPages},
		{"DeleteExpired", testDeleteExpired},
		{"DeleteExpiredLimit", testDeleteExpiredLimit},
		{"DeleteExpiredConcurrent", testDeleteExpiredConcurrent},
		{"NextExpiry", testNextExpiry},
		{"CancelledContext", testCancelledContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), storeTimeout)
			defer cancel()
			tt.test(t, ctx, newStore())
		})
	}
}

// newSession returns a full session created at Epoch with the ttl.
func newSession(id string, ttl time.Duration) *altarv1.Session {
	return &altarv1.Session{
		SessionId:      id,
		CreatedAt:      timestamppb.New(Epoch),
		ExpiresAt:      timestamppb.New(Epoch.Add(ttl)),
		LastAccessedAt: timestamppb.New(Epoch),
		Ttl:            durationpb.New(ttl),
		Metadata:       map[string]string{"app": "test", "id": id},
		SecurityContext: &altarv1.SecurityContext{
			PrincipalId: "user-1",
			TenantId:    "tenant-1",
			Roles:       []string{"reader", "writer"},
			Claims:      map[string]string{"sub": "user-1"},
			AuthMethod:  "jwt",
		},
	}
}

func id(i int) string { return fmt.Sprintf("ses_test_%06d", i) }

func mustCreate(t *testing.T, ctx context.Context, s session.Store, ss ...*altarv1.Session) {
	t.Helper()
	for _, x := range ss {
		if err := s.Create(ctx, x, 0); err != nil {
			t.Fatalf("Create(%q): %v", x.GetSessionId(), err)
		}
	}
}

func mustEqual(t *testing.T, what string, got, want *altarv1.Session) {
	t.Helper()
	if !proto.Equal(got, want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

func mustLen(t *testing.T, ctx context.Context, s session.Store, want int) {
	t.Helper()
	n, err := s.Len(ctx)
	if err != nil {
		t.Fatalf("Len: %v", err)
	}
	if n != want {
		t.Fatalf("Len = %d, want %d", n, want)
	}
}

func ids(ss []*altarv1.Session) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.GetSessionId()
	}
	return out
}

func testCreateGet(t *testing.T, ctx context.Context, s session.Store) {
	want := newSession(id(1), time.Minute)
	mustCreate(t, ctx, s, want)
	got, err := s.Get(ctx, id(1))
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	mustEqual(t, "Get", got, want)
	mustLen(t, ctx, s, 1)

	bare := &altarv1.Session{
		SessionId: id(2), CreatedAt: timestamppb.New(Epoch), ExpiresAt: timestamppb.New(Epoch.Add(time.Second)),
		LastAccessedAt: timestamppb.New(Epoch), Ttl: durationpb.New(time.Second),
	}
	mustCreate(t, ctx, s, bare)
	got, err = s.Get(ctx, id(2))
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	mustEqual(t, "Get of a session without metadata or security context", got, bare)
}

func testCreateKeepsNoPointer(t *testing.T, ctx context.Context, s session.Store) {
	in := newSession(id(1), time.Minute)
	want := proto.Clone(in).(*altarv1.Session)
	mustCreate(t, ctx, s, in)
	in.Metadata["app"] = "changed"
	in.SecurityContext.Roles[0] = "admin"
	in.SecurityContext.Claims["sub"] = "root"
	in.ExpiresAt.Seconds += 1000
	got, err := s.Get(ctx, id(1))
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	mustEqual(t, "Get after changing the created session", got, want)
}

func testReturnsCopies(t *testing.T, ctx context.Context, s session.Store) {
	want := newSession(id(1), time.Minute)
	mustCreate(t, ctx, s, want)
	mutate := func(x *altarv1.Session) {
		x.Metadata["app"] = "changed"
		x.SecurityContext.Roles[0] = "admin"
		x.SecurityContext.Claims["sub"] = "root"
		x.SecurityContext.PrincipalId = "root"
		x.ExpiresAt.Seconds += 1000
		x.Ttl.Seconds += 1000
	}
	got, err := s.Get(ctx, id(1))
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	mutate(got)
	listed, err := s.List(ctx, "", 10)
	if err != nil || len(listed) != 1 {
		t.Fatalf("List = %v, %v", ids(listed), err)
	}
	mustEqual(t, "List after changing Get's result", listed[0], want)
	mutate(listed[0])

	touched, err := s.Touch(ctx, id(1), Epoch)
	if err != nil {
		t.Fatalf("Touch: %v", err)
	}
	mutate(touched)
	got, err = s.Get(ctx, id(1))
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	mustEqual(t, "Get after changing List's and Touch's results", got, want)
}

func testCreateDuplicate(t *testing.T, ctx context.Context, s session.Store) {
	first := newSession(id(1), time.Minute)
	mustCreate(t, ctx, s, first)
	second := newSession(id(1), time.Hour)
	second.Metadata["second"] = "yes"
	if err := s.Create(ctx, second, 0); !errors.Is(err, session.ErrExists) {
		t.Fatalf("Create of a duplicate id = %v, want ErrExists", err)
	}
	got, err := s.Get(ctx, id(1))
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	mustEqual(t, "Get after a duplicate Create", got, first)
	mustLen(t, ctx, s, 1)
}

func testCreateConcurrentSameID(t *testing.T, ctx context.Context, s session.Store) {
	const goroutines = 16
	var won atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			x := newSession(id(1), time.Minute)
			x.Metadata["winner"] = fmt.Sprint(g)
			switch err := s.Create(ctx, x, 0); {
			case err == nil:
				won.Add(1)
			case !errors.Is(err, session.ErrExists):
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Create: %v", err)
	}
	if n := won.Load(); n != 1 {
		t.Fatalf("%d concurrent Creates of one id succeeded, want 1", n)
	}
	mustLen(t, ctx, s, 1)
}

func testCreateLimit(t *testing.T, ctx context.Context, s session.Store) {
	const limit = 3
	for i := range limit {
		if err := s.Create(ctx, newSession(id(i), time.Minute), limit); err != nil {
			t.Fatalf("Create %d of %d: %v", i+1, limit, err)
		}
	}
	if err := s.Create(ctx, newSession(id(limit), time.Minute), limit); !errors.Is(err, session.ErrFull) {
		t.Fatalf("Create past the limit = %v, want ErrFull", err)
	}
	if _, err := s.Get(ctx, id(limit)); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Get of the session refused for the limit = %v, want ErrNotFound", err)
	}
	// A higher limit, or none, lets it in; deleting one makes room.
	if err := s.Create(ctx, newSession(id(limit), time.Minute), limit+1); err != nil {
		t.Fatalf("Create under a higher limit: %v", err)
	}
	if _, err := s.Delete(ctx, id(0)); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := s.Create(ctx, newSession(id(0), time.Minute), limit+1); err != nil {
		t.Fatalf("Create after a Delete made room: %v", err)
	}
	mustLen(t, ctx, s, limit+1)
}

func testCreateLimitConcurrent(t *testing.T, ctx context.Context, s session.Store) {
	const goroutines, limit = 64, 10
	var won atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			switch err := s.Create(ctx, newSession(id(g), time.Minute), limit); {
			case err == nil:
				won.Add(1)
			case !errors.Is(err, session.ErrFull):
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Create: %v", err)
	}
	if n := won.Load(); n != limit {
		t.Fatalf("%d concurrent Creates succeeded under a limit of %d", n, limit)
	}
	mustLen(t, ctx, s, limit)
}

func testGetMissing(t *testing.T, ctx context.Context, s session.Store) {
	if _, err := s.Get(ctx, id(1)); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Get of a missing id = %v, want ErrNotFound", err)
	}
}

func testTouch(t *testing.T, ctx context.Context, s session.Store) {
	const ttl = time.Minute
	mustCreate(t, ctx, s, newSession(id(1), ttl))
	for _, step := range []time.Duration{30 * time.Second, 59 * time.Second, time.Nanosecond} {
		prev, err := s.Get(ctx, id(1))
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		now := prev.GetLastAccessedAt().AsTime().Add(step)
		got, err := s.Touch(ctx, id(1), now)
		if err != nil {
			t.Fatalf("Touch at +%v: %v", step, err)
		}
		want := proto.Clone(prev).(*altarv1.Session)
		want.LastAccessedAt = timestamppb.New(now)
		want.ExpiresAt = timestamppb.New(now.Add(ttl))
		mustEqual(t, "Touch", got, want)
		stored, err := s.Get(ctx, id(1))
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		mustEqual(t, "Get after Touch", stored, want)
	}
	if _, err := s.Touch(ctx, id(2), Epoch); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Touch of a missing id = %v, want ErrNotFound", err)
	}
}

func testTouchExpired(t *testing.T, ctx context.Context, s session.Store) {
	want := newSession(id(1), time.Minute)
	mustCreate(t, ctx, s, want)
	for _, now := range []time.Time{Epoch.Add(time.Minute), Epoch.Add(time.Hour)} {
		if _, err := s.Touch(ctx, id(1), now); !errors.Is(err, session.ErrExpired) {
			t.Fatalf("Touch at %v of a session expiring at %v = %v, want ErrExpired", now, Epoch.Add(time.Minute), err)
		}
	}
	got, err := s.Get(ctx, id(1))
	if err != nil {
		t.Fatalf("Get of an expired session: %v", err)
	}
	mustEqual(t, "Get after Touch of an expired session", got, want)
}

func testDelete(t *testing.T, ctx context.Context, s session.Store) {
	want := newSession(id(1), time.Minute)
	mustCreate(t, ctx, s, want, newSession(id(2), time.Minute))
	got, err := s.Delete(ctx, id(1))
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustEqual(t, "Delete", got, want)
	if _, err := s.Delete(ctx, id(1)); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("second Delete = %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, id(1)); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
	}
	if _, err := s.Touch(ctx, id(1), Epoch); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Touch after Delete = %v, want ErrNotFound", err)
	}
	mustLen(t, ctx, s, 1)
	if next, ok, err := s.NextExpiry(ctx); err != nil || !ok || !next.Equal(Epoch.Add(time.Minute)) {
		t.Fatalf("NextExpiry after Delete = %v, %v, %v", next, ok, err)
	}
	// The id is free again.
	mustCreate(t, ctx, s, newSession(id(1), time.Hour))
}

func testDeleteConcurrent(t *testing.T, ctx context.Context, s session.Store) {
	const goroutines = 16
	mustCreate(t, ctx, s, newSession(id(1), time.Minute))
	var won atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, goroutines+1)
	for range goroutines {
		wg.Go(func() {
			switch _, err := s.Delete(ctx, id(1)); {
			case err == nil:
				won.Add(1)
			case !errors.Is(err, session.ErrNotFound):
				errs <- err
			}
		})
	}
	wg.Go(func() {
		gone, err := s.DeleteExpired(ctx, Epoch.Add(time.Hour), 0)
		if err != nil {
			errs <- err
		}
		won.Add(int32(len(gone)))
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Delete: %v", err)
	}
	if n := won.Load(); n != 1 {
		t.Fatalf("%d concurrent removals of one session returned it, want 1", n)
	}
	mustLen(t, ctx, s, 0)
}

func testList(t *testing.T, ctx context.Context, s session.Store) {
	if got, err := s.List(ctx, "", 10); err != nil || len(got) != 0 {
		t.Fatalf("List of an empty store = %v, %v", ids(got), err)
	}
	// Created out of order; one expired (List includes it).
	order := []int{5, 1, 9, 3, 7}
	for _, i := range order {
		ttl := time.Minute
		if i == 3 {
			ttl = time.Second
		}
		mustCreate(t, ctx, s, newSession(id(i), ttl))
	}
	want := []string{id(1), id(3), id(5), id(7), id(9)}
	for _, tc := range []struct {
		after string
		limit int
		want  []string
	}{
		{"", 10, want},
		{"", 5, want},
		{"", 2, want[:2]},
		{id(1), 2, want[1:3]},
		{id(2), 2, want[1:3]},
		{id(9), 10, nil},
		{"zzz", 10, nil},
		{"", 1, want[:1]},
	} {
		got, err := s.List(ctx, tc.after, tc.limit)
		if err != nil {
			t.Fatalf("List(%q, %d): %v", tc.after, tc.limit, err)
		}
		if !slices.Equal(ids(got), tc.want) {
			t.Fatalf("List(%q, %d) = %v, want %v", tc.after, tc.limit, ids(got), tc.want)
		}
		for _, x := range got {
			stored, err := s.Get(ctx, x.GetSessionId())
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			mustEqual(t, "List entry", x, stored)
		}
	}
}

func testListPages(t *testing.T, ctx context.Context, s session.Store) {
	const n, page = 250, 7
	var want []string
	for i := range n {
		want = append(want, id(i))
		mustCreate(t, ctx, s, newSession(id(i), time.Minute))
	}
	var got []string
	after := ""
	for {
		batch, err := s.List(ctx, after, page)
		if err != nil {
			t.Fatalf("List(%q): %v", after, err)
		}
		got = append(got, ids(batch)...)
		if len(batch) < page {
			break
		}
		after = batch[len(batch)-1].GetSessionId()
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged List = %d ids %v..., want %d", len(got), got[:min(len(got), 5)], len(want))
	}
}

func testDeleteExpired(t *testing.T, ctx context.Context, s session.Store) {
	// ttl of session i: i seconds.
	for i := 1; i <= 10; i++ {
		mustCreate(t, ctx, s, newSession(id(i), time.Duration(i)*time.Second))
	}
	if gone, err := s.DeleteExpired(ctx, Epoch, 0); err != nil || len(gone) != 0 {
		t.Fatalf("DeleteExpired before any expiry = %v, %v", ids(gone), err)
	}
	// expires_at equal to now is expired.
	gone, err := s.DeleteExpired(ctx, Epoch.Add(3*time.Second), 0)
	if err != nil {
		t.Fatalf("DeleteExpired: %v", err)
	}
	got := ids(gone)
	slices.Sort(got)
	if want := []string{id(1), id(2), id(3)}; !slices.Equal(got, want) {
		t.Fatalf("DeleteExpired at +3s = %v, want %v", got, want)
	}
	for _, x := range gone {
		want := newSession(x.GetSessionId(), x.GetTtl().AsDuration())
		if !proto.Equal(x, want) {
			t.Fatalf("DeleteExpired returned %v, want %v", x, want)
		}
		if _, err := s.Get(ctx, x.GetSessionId()); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("Get of a deleted expired session = %v, want ErrNotFound", err)
		}
	}
	mustLen(t, ctx, s, 7)

	// A touched session moves out of the way; an untouched one does not.
	if _, err := s.Touch(ctx, id(4), Epoch.Add(3*time.Second)); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	gone, err = s.DeleteExpired(ctx, Epoch.Add(5*time.Second), 0)
	if err != nil {
		t.Fatalf("DeleteExpired: %v", err)
	}
	if got := ids(gone); !slices.Equal(got, []string{id(5)}) {
		t.Fatalf("DeleteExpired at +5s = %v, want [%s]", got, id(5))
	}
	gone, err = s.DeleteExpired(ctx, Epoch.Add(time.Hour), 0)
	if err != nil || len(gone) != 6 {
		t.Fatalf("DeleteExpired of all = %v, %v; want 6", ids(gone), err)
	}
	mustLen(t, ctx, s, 0)
}

func testDeleteExpiredLimit(t *testing.T, ctx context.Context, s session.Store) {
	const n = 100
	for i := range n {
		mustCreate(t, ctx, s, newSession(id(i), time.Second))
	}
	seen := make(map[string]bool)
	for round := 0; len(seen) < n; round++ {
		if round > n {
			t.Fatalf("DeleteExpired made no progress after %d rounds", round)
		}
		gone, err := s.DeleteExpired(ctx, Epoch.Add(time.Minute), 7)
		if err != nil {
			t.Fatalf("DeleteExpired: %v", err)
		}
		if len(gone) == 0 || len(gone) > 7 {
			t.Fatalf("DeleteExpired with limit 7 removed %d", len(gone))
		}
		for _, x := range gone {
			if seen[x.GetSessionId()] {
				t.Fatalf("DeleteExpired returned %s twice", x.GetSessionId())
			}
			seen[x.GetSessionId()] = true
		}
	}
	mustLen(t, ctx, s, 0)
}

func testDeleteExpiredConcurrent(t *testing.T, ctx context.Context, s session.Store) {
	const n, goroutines = 500, 8
	for i := range n {
		mustCreate(t, ctx, s, newSession(id(i), time.Second))
	}
	var mu sync.Mutex
	count := make(map[string]int)
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for range goroutines {
		wg.Go(func() {
			for {
				gone, err := s.DeleteExpired(ctx, Epoch.Add(time.Minute), 16)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, x := range gone {
					count[x.GetSessionId()]++
				}
				mu.Unlock()
				if len(gone) == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("DeleteExpired: %v", err)
	}
	if len(count) != n {
		t.Fatalf("concurrent DeleteExpired removed %d sessions, want %d", len(count), n)
	}
	for x, c := range count {
		if c != 1 {
			t.Fatalf("session %s was returned %d times", x, c)
		}
	}
	mustLen(t, ctx, s, 0)
}

func testNextExpiry(t *testing.T, ctx context.Context, s session.Store) {
	if _, ok, err := s.NextExpiry(ctx); err != nil || ok {
		t.Fatalf("NextExpiry of an empty store = %v, %v; want false", ok, err)
	}
	mustCreate(t, ctx, s, newSession(id(1), time.Hour), newSession(id(2), time.Minute), newSession(id(3), 2*time.Hour))
	check := func(want time.Time) {
		t.Helper()
		next, ok, err := s.NextExpiry(ctx)
		if err != nil || !ok || !next.Equal(want) {
			t.Fatalf("NextExpiry = %v, %v, %v; want %v", next, ok, err, want)
		}
	}
	check(Epoch.Add(time.Minute))
	if _, err := s.Touch(ctx, id(2), Epoch.Add(30*time.Second)); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	check(Epoch.Add(90 * time.Second))
	if _, err := s.Delete(ctx, id(2)); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	check(Epoch.Add(time.Hour))
	if _, err := s.DeleteExpired(ctx, Epoch.Add(time.Hour), 0); err != nil {
		t.Fatalf("DeleteExpired: %v", err)
	}
	check(Epoch.Add(2 * time.Hour))
}

func testCancelledContext(t *testing.T, _ context.Context, s session.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	mustCreate(t, ctx, s, newSession(id(1), time.Minute))
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context = %v, want context.Canceled", op, err)
		}
	}
	check("Create", s.Create(ctx, newSession(id(2), time.Minute), 0))
	_, err := s.Get(ctx, id(1))
	check("Get", err)
	_, err = s.Touch(ctx, id(1), Epoch)
	check("Touch", err)
	_, err = s.List(ctx, "", 10)
	check("List", err)
	_, err = s.Delete(ctx, id(1))
	check("Delete", err)
	_, err = s.DeleteExpired(ctx, Epoch.Add(time.Hour), 0)
	check("DeleteExpired", err)
	_, _, err = s.NextExpiry(ctx)
	check("NextExpiry", err)
	_, err = s.Len(ctx)
	check("Len", err)

	// Nothing changed.
	live := context.Background()
	mustLen(t, live, s, 1)
	got, err := s.Get(live, id(1))
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	mustEqual(t, "Get after calls with a cancelled context", got, newSession(id(1), time.Minute))
}
