// Package session is the Host's sessions: a caller's identity
// (altar.v1.SecurityContext, attached by the Host when the session is
// created), its bounded key-value metadata, and its lifetime (a TTL with a
// configured default and maximum, refreshed by Touch on each use).
//
// A Manager holds the rules (ids, TTLs, limits, expiry, events) and keeps
// the sessions in a Store. MemoryStore is the default, for one Host; a store
// shared by several Hosts (NATS JetStream, in gateway/cluster) implements
// the same interface and passes the same conformance tests
// (sessiontest.TestStore). The Store contract is written for a remote store:
// every method takes a context and can fail, values cross it as copies, and
// each decision (create if absent, refresh if live, delete if expired) is
// one atomic store operation.
//
// # Lifecycle
//
//	m, err := session.New(session.NewMemoryStore(), opts...) // no I/O, no goroutines
//	go m.Run(ctx)                                            // sweeps expired sessions
//	...                                                      // Create, Get, Touch, List, Destroy
//	m.Close()                                                // stops Run and waits for it
//
// Run is optional: without it, expired sessions still behave as expired
// (ERROR_CODE_SESSION_EXPIRED) and are removed when Sweep is called, when a
// full Manager needs room, or when they are destroyed.
//
// # Contexts
//
// The context given to each method is the caller's and bounds only that
// call; the Manager passes it to the Store, which returns early once it
// ends. The context given to Run is owned by whoever started the sweeper
// (the Host's composition root): cancelling it, or calling Close, stops the
// sweeper and cancels a sweep in progress. Listeners run on the goroutine
// that caused the event, under that goroutine's context, and receive no
// context of their own.
//
// # Expiry
//
// A session is expired once its expires_at is not after the clock's now.
// From that moment Get, Touch and Destroy answer ERROR_CODE_SESSION_EXPIRED
// and List leaves it out, even if no sweep has removed it; Touch never
// revives it. Once removed, its id answers ERROR_CODE_SESSION_NOT_FOUND,
// like an id that never existed. Each session is reported to listeners once
// as CREATED and at most once as EXPIRED or DESTROYED.
package session
