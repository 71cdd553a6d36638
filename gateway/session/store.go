package session

import (
	"context"
	"errors"
	"time"

	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// Errors a Store returns (possibly wrapped) so the Manager can tell its
// outcomes apart. Anything else a Store returns is a store failure, reported
// to callers as ERROR_CODE_INTERNAL (or CANCELLED / DEADLINE_EXCEEDED when it
// wraps the context's error).
var (
	// ErrNotFound: no session has the id.
	ErrNotFound = errors.New("session: not found")
	// ErrExists: a session with the id is already stored.
	ErrExists = errors.New("session: already exists")
	// ErrExpired: the session is stored but its expires_at is not after now.
	ErrExpired = errors.New("session: expired")
	// ErrFull: the store already holds its limit of sessions.
	ErrFull = errors.New("session: store full")
)

// Store is what the Manager needs from the place sessions live. The memory
// store (NewMemoryStore) is the default; a store shared by several Hosts
// (NATS JetStream) implements the same contract, so nothing here assumes the
// data lives in this process: every operation that decides something (create
// if absent, refresh if live, delete if expired) is one atomic store
// operation, never a read-modify-write by the caller.
//
// Every method is safe for concurrent use. ctx is owned by the caller and
// bounds the call: a method that could block (on a lock held long, on the
// network) returns early with an error wrapping ctx.Err() once ctx is done,
// and every method returns ctx.Err() if ctx is already done when it is
// called.
//
// Sessions passed in are not retained (the store keeps its own copy) and
// sessions returned are fresh copies the caller owns and may modify.
// sessiontest.TestStore checks all of this; every implementation runs it.
type Store interface {
	// Create stores s if no session has its id, atomically: of two
	// concurrent Creates with one id (on one Host or two), exactly one
	// succeeds. It returns ErrExists if the id is taken, and ErrFull if
	// limit > 0 and the store already holds limit sessions (expired ones
	// not yet deleted count). s has every field set; the store keeps them
	// as given.
	Create(ctx context.Context, s *altarv1.Session, limit int) error

	// Get returns the session with the id, expired or not (the caller
	// judges expiry), or ErrNotFound.
	Get(ctx context.Context, id string) (*altarv1.Session, error)

	// Touch refreshes a live session atomically: if its expires_at is after
	// now it sets last_accessed_at to now and expires_at to now plus its
	// ttl, and returns the updated session. It returns ErrExpired (and
	// changes nothing) if expires_at is not after now, and ErrNotFound if
	// no session has the id.
	Touch(ctx context.Context, id string, now time.Time) (*altarv1.Session, error)

	// Delete removes the session with the id and returns it as it was, or
	// returns ErrNotFound. Of concurrent Deletes and DeleteExpireds, only
	// one returns a given session.
	Delete(ctx context.Context, id string) (*altarv1.Session, error)

	// List returns up to limit sessions (limit > 0) whose ids sort after
	// the id after (all ids when after is ""), in ascending id order,
	// expired ones included. Fewer than limit means there are no more. A
	// session that exists for the whole of a paged listing appears in it
	// exactly once; one created or deleted meanwhile may or may not.
	List(ctx context.Context, after string, limit int) ([]*altarv1.Session, error)

	// DeleteExpired removes sessions whose expires_at is not after now, at
	// most limit of them when limit > 0, and returns what it removed. Of
	// concurrent callers (on one Host or several), only one returns a given
	// session, so each expiry is reported once. On failure it still returns
	// what it removed before failing, so none goes unreported.
	DeleteExpired(ctx context.Context, now time.Time, limit int) ([]*altarv1.Session, error)

	// NextExpiry returns the earliest expires_at of any stored session, and
	// false if the store is empty.
	NextExpiry(ctx context.Context) (time.Time, bool, error)

	// Len returns how many sessions are stored, expired ones included.
	Len(ctx context.Context) (int, error)
}
