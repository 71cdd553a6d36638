package session

import (
	"container/heap"
	"context"
	"errors"
	"hash/maphash"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// shardCount is how many independently locked parts a MemoryStore has. A
// power of two, so a hash picks a shard with a mask.
const shardCount = 32

// MemoryStore is a Store that keeps sessions in this process. It is the
// default store of a single Host and the reference implementation of the
// Store contract.
//
// Sessions are spread over 32 shards by a hash of their id, each shard with
// its own lock, a map by id and a heap by expiry, so Create, Get, Touch and
// Delete on different sessions rarely contend; DeleteExpired and NextExpiry
// cost O(log n) per session; List scans every shard (O(n) per page) and is
// meant for administration, not for the hot path. The number of sessions is
// one atomic counter, so Create's limit holds exactly under any concurrency.
//
// No operation blocks except on a shard's lock, which is never held across
// anything slow; ctx is checked on entry and between shards.
//
// The zero value is not usable; call NewMemoryStore.
type MemoryStore struct {
	seed   maphash.Seed
	count  atomic.Int64
	shards [shardCount]shard
}

type shard struct {
	mu     sync.RWMutex
	byID   map[string]*entry
	expiry expiryHeap
	// Keep neighbouring shards' locks off one cache line.
	_ [64]byte
}

// record is a stored session in plain Go values. Its metadata map and
// security context are never modified after Create and never handed out
// (readers get copies), so a record copied out under a shard's lock may be
// read after the lock is released.
type record struct {
	id       string
	created  time.Time
	expires  time.Time
	accessed time.Time
	ttl      time.Duration
	metadata map[string]string
	security *altarv1.SecurityContext
}

type entry struct {
	record
	index int // in the shard's expiry heap
}

// NewMemoryStore returns an empty in-memory store.
func NewMemoryStore() *MemoryStore {
	m := &MemoryStore{seed: maphash.MakeSeed()}
	for i := range m.shards {
		m.shards[i].byID = make(map[string]*entry)
	}
	return m
}

func (m *MemoryStore) shard(id string) *shard {
	return &m.shards[maphash.String(m.seed, id)&(shardCount-1)]
}

// Create implements Store.
func (m *MemoryStore) Create(ctx context.Context, s *altarv1.Session, limit int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.GetSessionId() == "" {
		return errors.New("session: create: the session has no id")
	}
	r := recordOf(s) // copy before taking the lock
	sh := m.shard(r.id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.byID[r.id]; ok {
		return ErrExists
	}
	if !m.reserve(limit) {
		return ErrFull
	}
	e := &entry{record: r}
	sh.byID[r.id] = e
	heap.Push(&sh.expiry, e)
	return nil
}

// reserve counts one more session unless limit (when positive) is reached.
func (m *MemoryStore) reserve(limit int) bool {
	for {
		n := m.count.Load()
		if limit > 0 && n >= int64(limit) {
			return false
		}
		if m.count.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Get implements Store.
func (m *MemoryStore) Get(ctx context.Context, id string) (*altarv1.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sh := m.shard(id)
	sh.mu.RLock()
	e, ok := sh.byID[id]
	var r record
	if ok {
		r = e.record
	}
	sh.mu.RUnlock()
	if !ok {
		return nil, ErrNotFound
	}
	return r.session(), nil
}

// Touch implements Store.
func (m *MemoryStore) Touch(ctx context.Context, id string, now time.Time) (*altarv1.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sh := m.shard(id)
	sh.mu.Lock()
	e, ok := sh.byID[id]
	if !ok {
		sh.mu.Unlock()
		return nil, ErrNotFound
	}
	if !now.Before(e.expires) {
		sh.mu.Unlock()
		return nil, ErrExpired
	}
	e.accessed = now
	e.expires = now.Add(e.ttl)
	heap.Fix(&sh.expiry, e.index)
	r := e.record
	sh.mu.Unlock()
	return r.session(), nil
}

// Delete implements Store.
func (m *MemoryStore) Delete(ctx context.Context, id string) (*altarv1.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sh := m.shard(id)
	sh.mu.Lock()
	e, ok := sh.byID[id]
	if !ok {
		sh.mu.Unlock()
		return nil, ErrNotFound
	}
	delete(sh.byID, id)
	heap.Remove(&sh.expiry, e.index)
	m.count.Add(-1)
	sh.mu.Unlock()
	return e.session(), nil
}

// List implements Store. Each shard offers its smallest ids after after
// (at most limit of them, kept in a bounded heap), and the union is sorted.
func (m *MemoryStore) List(ctx context.Context, after string, limit int) ([]*altarv1.Session, error) {
	if limit <= 0 {
		return nil, errors.New("session: list: limit must be positive")
	}
	sel := smallest{k: limit}
	for i := range m.shards {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sh := &m.shards[i]
		sh.mu.RLock()
		for id, e := range sh.byID {
			if id > after {
				sel.offer(&e.record)
			}
		}
		sh.mu.RUnlock()
	}
	slices.SortFunc(sel.h, func(a, b record) int { return strings.Compare(a.id, b.id) })
	out := make([]*altarv1.Session, len(sel.h))
	for i := range sel.h {
		out[i] = sel.h[i].session()
	}
	return out, nil
}

// DeleteExpired implements Store.
func (m *MemoryStore) DeleteExpired(ctx context.Context, now time.Time, limit int) ([]*altarv1.Session, error) {
	var gone []record
	var err error
	for i := range m.shards {
		if err = ctx.Err(); err != nil {
			break
		}
		if limit > 0 && len(gone) >= limit {
			break
		}
		sh := &m.shards[i]
		sh.mu.Lock()
		for len(sh.expiry) > 0 && !now.Before(sh.expiry[0].expires) && (limit <= 0 || len(gone) < limit) {
			e := heap.Pop(&sh.expiry).(*entry)
			delete(sh.byID, e.id)
			m.count.Add(-1)
			gone = append(gone, e.record)
		}
		sh.mu.Unlock()
	}
	out := make([]*altarv1.Session, len(gone))
	for i := range gone {
		out[i] = gone[i].session()
	}
	return out, err
}

// NextExpiry implements Store.
func (m *MemoryStore) NextExpiry(ctx context.Context) (time.Time, bool, error) {
	var next time.Time
	found := false
	for i := range m.shards {
		if err := ctx.Err(); err != nil {
			return time.Time{}, false, err
		}
		sh := &m.shards[i]
		sh.mu.RLock()
		if len(sh.expiry) > 0 && (!found || sh.expiry[0].expires.Before(next)) {
			next, found = sh.expiry[0].expires, true
		}
		sh.mu.RUnlock()
	}
	return next, found, nil
}

// Len implements Store.
func (m *MemoryStore) Len(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return int(m.count.Load()), nil
}

// recordOf copies s into a record the store owns.
func recordOf(s *altarv1.Session) record {
	r := record{
		id:       s.GetSessionId(),
		created:  s.GetCreatedAt().AsTime(),
		expires:  s.GetExpiresAt().AsTime(),
		accessed: s.GetLastAccessedAt().AsTime(),
		ttl:      s.GetTtl().AsDuration(),
	}
	if len(s.GetMetadata()) > 0 {
		r.metadata = maps.Clone(s.GetMetadata())
	}
	if s.GetSecurityContext() != nil {
		r.security = proto.Clone(s.GetSecurityContext()).(*altarv1.SecurityContext)
	}
	return r
}

// session builds a fresh Session, sharing nothing with r.
func (r *record) session() *altarv1.Session {
	// One allocation for the message and its four small fields: every
	// store read returns a copy, and this is the cost of it.
	b := new(struct {
		s                          altarv1.Session
		created, expires, accessed timestamppb.Timestamp
		ttl                        durationpb.Duration
	})
	setTimestamp(&b.created, r.created)
	setTimestamp(&b.expires, r.expires)
	setTimestamp(&b.accessed, r.accessed)
	b.ttl.Seconds, b.ttl.Nanos = int64(r.ttl/time.Second), int32(r.ttl%time.Second)
	s := &b.s
	s.SessionId = r.id
	s.CreatedAt, s.ExpiresAt, s.LastAccessedAt, s.Ttl = &b.created, &b.expires, &b.accessed, &b.ttl
	if len(r.metadata) > 0 {
		s.Metadata = maps.Clone(r.metadata)
	}
	if r.security != nil {
		s.SecurityContext = cloneSecurity(r.security)
	}
	return s
}

// cloneSecurity is proto.Clone for a SecurityContext without reflection:
// every session read copies it (TestCloneSecurity holds it to proto.Clone
// for every field the message has).
func cloneSecurity(sc *altarv1.SecurityContext) *altarv1.SecurityContext {
	c := &altarv1.SecurityContext{
		PrincipalId: sc.GetPrincipalId(),
		TenantId:    sc.GetTenantId(),
		AuthMethod:  sc.GetAuthMethod(),
	}
	if roles := sc.GetRoles(); roles != nil {
		c.Roles = slices.Clone(roles)
	}
	if claims := sc.GetClaims(); claims != nil {
		c.Claims = maps.Clone(claims)
	}
	if u := sc.ProtoReflect().GetUnknown(); len(u) > 0 {
		c.ProtoReflect().SetUnknown(slices.Clone(u))
	}
	return c
}

// setTimestamp is timestamppb.New without the allocation.
func setTimestamp(ts *timestamppb.Timestamp, t time.Time) {
	ts.Seconds, ts.Nanos = t.Unix(), int32(t.Nanosecond())
}

// expiryHeap orders a shard's entries by expires_at (then id), earliest
// first, for container/heap.
type expiryHeap []*entry

func (h expiryHeap) Len() int { return len(h) }

func (h expiryHeap) Less(i, j int) bool {
	if c := h[i].expires.Compare(h[j].expires); c != 0 {
		return c < 0
	}
	return h[i].id < h[j].id
}

func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *expiryHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}

func (h *expiryHeap) Pop() any {
	old := *h
	n := len(old) - 1
	e := old[n]
	old[n] = nil
	e.index = -1
	*h = old[:n]
	return e
}

// smallest keeps the k records with the smallest ids offered to it, as a
// max-heap on id (the largest kept id at h[0]).
type smallest struct {
	k int
	h []record
}

func (s *smallest) offer(r *record) {
	if len(s.h) < s.k {
		s.h = append(s.h, *r)
		for i := len(s.h) - 1; i > 0; {
			p := (i - 1) / 2
			if s.h[p].id >= s.h[i].id {
				break
			}
			s.h[p], s.h[i] = s.h[i], s.h[p]
			i = p
		}
		return
	}
	if r.id >= s.h[0].id {
		return
	}
	s.h[0] = *r
	for i := 0; ; {
		l, big := 2*i+1, i
		if l < len(s.h) && s.h[l].id > s.h[big].id {
			big = l
		}
		if l+1 < len(s.h) && s.h[l+1].id > s.h[big].id {
			big = l + 1
		}
		if big == i {
			break
		}
		s.h[i], s.h[big] = s.h[big], s.h[i]
		i = big
	}
}

var _ Store = (*MemoryStore)(nil)
