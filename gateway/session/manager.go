package session

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Paging of List.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

const (
	// sweepBatch is how many sessions one DeleteExpired call may remove, so
	// that one sweep over a remote store is several bounded requests.
	sweepBatch = 1024
	// idAttempts is how often Create draws a new id after a collision
	// (which 128 random bits make all but impossible).
	idAttempts = 3
	// RetryAfter of a full Manager's Create lies in [minRetryAfter,
	// maxRetryAfter].
	minRetryAfter = time.Second
	maxRetryAfter = time.Minute
)

// Manager is the Host's sessions: it creates, finds, refreshes, lists and
// destroys them in a Store, enforces TTLs and bounds, expires them, and
// tells listeners. All its methods are safe for concurrent use.
//
// Errors are *altarerr.Error. A session whose expires_at has passed is
// expired at once, whether or not it has been swept yet: Get, Touch and
// Destroy report ERROR_CODE_SESSION_EXPIRED for it, and List leaves it out.
// Once it has been removed (by Sweep, by Run, or by Destroy) its id is
// ERROR_CODE_SESSION_NOT_FOUND, like an id that never existed.
//
// Listeners (WithListener) are called synchronously, outside any lock, by
// the goroutine that made the change, after the store has made it: CREATED
// by Create before it returns; DESTROYED by Destroy; EXPIRED by Sweep (so by
// Run's goroutine, or by a Create that swept to make room) or by a Destroy
// that found the session already expired. Each session gets one CREATED and
// at most one EXPIRED or DESTROYED, because the store lets only one remover
// have it. A listener must be quick (hand slow work to another goroutine),
// may call the Manager, and must not modify the event. A session ended by
// another caller while its Create is still running can be reported ended
// before it is reported created; only a client that proposed the id can know
// it that early.
type Manager struct {
	store Store
	cfg   config

	closed atomic.Bool

	runMu     sync.Mutex
	running   bool
	cancelRun context.CancelFunc
	runDone   chan struct{}
}

// New returns a Manager of the sessions in store. It does no I/O and starts
// nothing; call Run to expire sessions in the background and Close when done.
// The store stays the caller's: Close does not close it.
func New(store Store, opts ...Option) (*Manager, error) {
	if store == nil {
		return nil, errors.New("session: New: nil store")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Manager{store: store, cfg: cfg}, nil
}

// Create starts a session carrying sc (the caller's identity as the Host's
// authentication established it; nil for none) and req's metadata.
//
// A proposed req.SessionId is kept if it is well-formed (ValidID; else
// ERROR_CODE_INVALID_REQUEST) and free (else ERROR_CODE_ALREADY_EXISTS);
// without one the Host generates an id (NewID). req.Ttl zero means the
// default TTL; a longer one than the maximum is capped, a shorter one than
// MinTTL raised, and a negative one is ERROR_CODE_INVALID_REQUEST. Metadata
// past its limits fails naming the key (ERROR_CODE_PAYLOAD_TOO_LARGE or
// ERROR_CODE_INVALID_REQUEST).
//
// When the Manager already holds its maximum of sessions, Create first
// sweeps expired ones; if that frees nothing it fails with
// ERROR_CODE_RESOURCE_EXHAUSTED, RetryAfter set to when the next session
// expires (within 1s to 1m).
func (m *Manager) Create(ctx context.Context, req *altarv1.CreateSessionRequest, sc *altarv1.SecurityContext) (*altarv1.Session, error) {
	if err := m.checkOpen(); err != nil {
		return nil, err
	}
	id := req.GetSessionId()
	proposed := id != ""
	if proposed && !ValidID(id) {
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST,
			"proposed session id %s is not %d to %d letters, digits, '_' or '-'", quote(id), MinIDLen, MaxIDLen).
			WithField("/session_id", "pattern", "must match ^[A-Za-z0-9_-]{8,128}$")
	}
	ttl, err := m.ttl(req.GetTtl())
	if err != nil {
		return nil, err
	}
	if err := m.cfg.metadata.check(req.GetMetadata()); err != nil {
		return nil, err
	}

	now := m.now()
	// Copies req's metadata and sc: the caller keeps its own.
	r := record{id: id, created: now, expires: now.Add(ttl), accessed: now, ttl: ttl, metadata: req.GetMetadata(), security: sc}
	s := r.session()

	swept := false
	for attempt := 1; ; attempt++ {
		if !proposed {
			s.SessionId = NewID()
		}
		err := m.store.Create(ctx, s, m.cfg.maxSessions)
		switch {
		case err == nil:
			m.emit(s.GetSessionId(), altarv1.SessionEventKind_SESSION_EVENT_KIND_CREATED, now)
			return s, nil
		case errors.Is(err, ErrExists) && proposed:
			return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS,
				"session %q already exists; propose another id or none", id).
				WithField("/session_id", "unique", "already in use")
		case errors.Is(err, ErrExists) && attempt < idAttempts:
			continue
		case errors.Is(err, ErrFull) && !swept:
			swept = true
			if n, _ := m.Sweep(ctx); n > 0 {
				continue
			}
			return nil, m.exhausted(ctx, now)
		case errors.Is(err, ErrFull):
			return nil, m.exhausted(ctx, now)
		default:
			return nil, storeError(err, "create session")
		}
	}
}

// exhausted is Create's error when the Manager is full.
func (m *Manager) exhausted(ctx context.Context, now time.Time) error {
	wait := m.cfg.sweepInterval
	if next, ok, err := m.store.NextExpiry(ctx); err == nil && ok {
		wait = next.Sub(now)
	}
	wait = min(max(wait, minRetryAfter), maxRetryAfter)
	e := altarerr.New(altarv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED,
		"the Host holds its maximum of %d sessions; destroy unused sessions or retry later", m.cfg.maxSessions).
		WithDetail("limit", "max_sessions")
	e.RetryAfter = wait
	return e
}

// ttl returns the TTL for a requested one.
func (m *Manager) ttl(d *durationpb.Duration) (time.Duration, error) {
	if d == nil {
		return m.cfg.defaultTTL, nil
	}
	if err := d.CheckValid(); err != nil {
		return 0, altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, err, "session ttl is not a valid duration").
			WithField("/ttl", "duration", "not a valid duration")
	}
	ttl := d.AsDuration()
	switch {
	case ttl < 0:
		return 0, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "session ttl %v is negative", ttl).
			WithField("/ttl", "minimum", "must not be negative")
	case ttl == 0:
		return m.cfg.defaultTTL, nil
	}
	return min(max(ttl, MinTTL), m.cfg.maxTTL), nil
}

// Get returns the session with the id. It does not refresh it (Touch does).
// An expired session is ERROR_CODE_SESSION_EXPIRED even before it is swept.
func (m *Manager) Get(ctx context.Context, id string) (*altarv1.Session, error) {
	if err := m.checkID(id); err != nil {
		return nil, err
	}
	s, err := m.store.Get(ctx, id)
	if err != nil {
		return nil, m.lookupError(err, id, "get session")
	}
	if m.expired(s, m.now()) {
		return nil, expiredError(id)
	}
	return s, nil
}

// Touch records an access to the session: last_accessed_at becomes now and
// expires_at now plus the session's TTL. It returns the refreshed session.
// An expired session stays expired (ERROR_CODE_SESSION_EXPIRED).
func (m *Manager) Touch(ctx context.Context, id string) (*altarv1.Session, error) {
	if err := m.checkID(id); err != nil {
		return nil, err
	}
	s, err := m.store.Touch(ctx, id, m.now())
	if err != nil {
		return nil, m.lookupError(err, id, "touch session")
	}
	return s, nil
}

// Destroy ends the session and tells listeners (DESTROYED). A session that
// had already expired is removed too, but reported as expired: listeners
// get EXPIRED and the caller ERROR_CODE_SESSION_EXPIRED.
func (m *Manager) Destroy(ctx context.Context, id string) error {
	if err := m.checkID(id); err != nil {
		return err
	}
	s, err := m.store.Delete(ctx, id)
	if err != nil {
		return m.lookupError(err, id, "destroy session")
	}
	now := m.now()
	if m.expired(s, now) {
		m.emit(id, altarv1.SessionEventKind_SESSION_EVENT_KIND_EXPIRED, s.GetExpiresAt().AsTime())
		return expiredError(id)
	}
	m.emit(id, altarv1.SessionEventKind_SESSION_EVENT_KIND_DESTROYED, now)
	return nil
}

// List returns one page of the live sessions in ascending id order.
// req.PageSize zero means DefaultPageSize, and more than MaxPageSize is
// capped; req.PageToken is "" for the first page and a previous response's
// NextPageToken for the next, which is "" after the last page. A session
// that lives through a whole listing appears exactly once; one created or
// ended meanwhile may or may not.
func (m *Manager) List(ctx context.Context, req *altarv1.ListSessionsRequest) (*altarv1.ListSessionsResponse, error) {
	if err := m.checkOpen(); err != nil {
		return nil, err
	}
	size := int(req.GetPageSize())
	switch {
	case size < 0:
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "page_size %d is negative", size).
			WithField("/page_size", "minimum", "must not be negative")
	case size == 0:
		size = DefaultPageSize
	case size > MaxPageSize:
		size = MaxPageSize
	}
	after, ok := decodePageToken(req.GetPageToken())
	if !ok {
		return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST,
			"page_token is not one this Host returned; start again with an empty token").
			WithField("/page_token", "token", "not a token this Host issued")
	}

	now := m.now()
	page := make([]*altarv1.Session, 0, size)
	more := false
	// Ask for one more live session than the page needs, to know whether
	// another page follows; skip expired ones, asking again as needed.
	for !more {
		want := size - len(page) + 1
		batch, err := m.store.List(ctx, after, want)
		if err != nil {
			return nil, storeError(err, "list sessions")
		}
		for _, s := range batch {
			if m.expired(s, now) {
				after = s.GetSessionId()
				continue
			}
			if len(page) == size {
				more = true
				break
			}
			page = append(page, s)
			after = s.GetSessionId()
		}
		if len(batch) < want {
			break
		}
	}
	resp := &altarv1.ListSessionsResponse{Sessions: page}
	if more {
		resp.NextPageToken = encodePageToken(after)
	}
	return resp, nil
}

// Len returns how many sessions the store holds, counting expired ones not
// yet swept.
func (m *Manager) Len(ctx context.Context) (int, error) {
	n, err := m.store.Len(ctx)
	if err != nil {
		return 0, storeError(err, "count sessions")
	}
	return n, nil
}

func (m *Manager) now() time.Time {
	// Wall time only: a store shared by Hosts compares wall times, and the
	// memory store must behave the same.
	return m.cfg.clock.Now().Round(0)
}

func (m *Manager) expired(s *altarv1.Session, now time.Time) bool {
	return !now.Before(s.GetExpiresAt().AsTime())
}

func (m *Manager) checkOpen() error {
	if m.closed.Load() {
		return altarerr.New(altarv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, "the session manager is closed")
	}
	return nil
}

// checkID rejects an empty id and answers a malformed one (which no session
// can have) without asking the store.
func (m *Manager) checkID(id string) error {
	if err := m.checkOpen(); err != nil {
		return err
	}
	if id == "" {
		return altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "session_id is required").
			WithField("/session_id", "required", "required")
	}
	if !ValidID(id) {
		return notFoundError(id)
	}
	return nil
}

// lookupError turns a store error about one session into an *altarerr.Error.
func (m *Manager) lookupError(err error, id, op string) error {
	switch {
	case errors.Is(err, ErrNotFound):
		return notFoundError(id)
	case errors.Is(err, ErrExpired):
		return expiredError(id)
	}
	return storeError(err, op)
}

func notFoundError(id string) error {
	return altarerr.New(altarv1.ErrorCode_ERROR_CODE_SESSION_NOT_FOUND, "no session %s", quote(id))
}

func expiredError(id string) error {
	return altarerr.New(altarv1.ErrorCode_ERROR_CODE_SESSION_EXPIRED, "session %s has expired; create a new one", quote(id))
}

// storeError reports a store failure: the context's end as CANCELLED or
// DEADLINE_EXCEEDED, an *altarerr.Error as itself, anything else as
// INTERNAL.
func storeError(err error, op string) error {
	var e *altarerr.Error
	switch {
	case errors.As(err, &e):
		return err
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return altarerr.From(err)
	}
	return altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INTERNAL, err, "session store: %s", op)
}

// emit tells every listener, giving each its own event.
func (m *Manager) emit(id string, kind altarv1.SessionEventKind, at time.Time) {
	for _, l := range m.cfg.listeners {
		l(&altarv1.SessionEvent{SessionId: id, Kind: kind, At: timestamppb.New(at)})
	}
}
