package invoke

import (
	"encoding/binary"
	"sync"
	"time"

	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// MetadataCache is the ToolResult metadata key set to "hit" on a result
// served from the result cache.
const MetadataCache = "altar.cache"

// cacheKey names a cached result: the tool, the contract version and the
// keyed digest of the canonical arguments.
type cacheKey struct {
	tool, version string
	digest        [32]byte
}

const cacheShards = 16

// resultCache is a sharded LRU of successful results with a TTL each.
type resultCache struct {
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu   sync.Mutex
	m    map[cacheKey]*cacheEntry
	root cacheEntry // sentinel of the recency ring: root.next is the newest
}

type cacheEntry struct {
	key        cacheKey
	res        *altarv1.ToolResult
	expires    time.Time
	prev, next *cacheEntry
}

func newResultCache(max int) *resultCache {
	if max <= 0 {
		return nil
	}
	rc := &resultCache{perShard: (max + cacheShards - 1) / cacheShards}
	for i := range rc.shards {
		s := &rc.shards[i]
		s.m = make(map[cacheKey]*cacheEntry)
		s.root.prev, s.root.next = &s.root, &s.root
	}
	return rc
}

func (rc *resultCache) shard(k *cacheKey) *cacheShard {
	return &rc.shards[binary.LittleEndian.Uint64(k.digest[:8])%cacheShards]
}

func (s *cacheShard) unlink(e *cacheEntry) {
	e.prev.next = e.next
	e.next.prev = e.prev
}

func (s *cacheShard) pushFront(e *cacheEntry) {
	e.prev = &s.root
	e.next = s.root.next
	s.root.next.prev = e
	s.root.next = e
}

// get returns the cached result for k, or nil when absent or expired.
func (rc *resultCache) get(k cacheKey, now time.Time) *altarv1.ToolResult {
	s := rc.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[k]
	if e == nil {
		return nil
	}
	if !e.expires.After(now) {
		s.unlink(e)
		delete(s.m, k)
		return nil
	}
	s.unlink(e)
	s.pushFront(e)
	return e.res
}

// put stores res for ttl, evicting the least recently used beyond the
// bound.
func (rc *resultCache) put(k cacheKey, res *altarv1.ToolResult, now time.Time, ttl time.Duration) {
	s := rc.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.m[k]; e != nil {
		e.res, e.expires = res, now.Add(ttl)
		s.unlink(e)
		s.pushFront(e)
		return
	}
	e := &cacheEntry{key: k, res: res, expires: now.Add(ttl)}
	s.m[k] = e
	s.pushFront(e)
	for len(s.m) > rc.perShard {
		old := s.root.prev
		s.unlink(old)
		delete(s.m, old.key)
	}
}

// cachedResult is the answer to a call served from the cache: the cached
// payload (shared, read-only) under this call's ids.
func cachedResult(r *altarv1.ToolResult, c *call) *altarv1.ToolResult {
	md := make(map[string]string, len(r.GetMetadata())+1)
	for k, v := range r.GetMetadata() {
		md[k] = v
	}
	md[MetadataCache] = "hit"
	return &altarv1.ToolResult{
		InvocationId:    c.id,
		CorrelationId:   c.correlationID,
		Status:          r.GetStatus(),
		Payload:         r.GetPayload(),
		Metadata:        md,
		ExecutionTimeMs: r.GetExecutionTimeMs(),
		RuntimeId:       r.GetRuntimeId(),
	}
}
