package invoketest

import (
	"context"
	"io"
	"sync"

	"github.com/altar-gateway/altar/gateway/runtime"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// ChunkStream is a fake runtime.ChunkStream fed by the test: Send queues a
// chunk (blocking while the buffer is full, as a real runtime waits for a
// slow reader), End ends the stream (Recv then returns io.EOF), Fail ends
// it with an error. Recv returns the context's error when the stream's
// context ends, and io.EOF after Close.
type ChunkStream struct {
	ctx    context.Context
	ch     chan *altarv1.StreamChunk
	closed chan struct{}
	once   sync.Once

	mu  sync.Mutex
	end error // set by End/Fail; returned once the buffer is drained
	fin chan struct{}
}

// NewChunkStream returns a stream bounded by ctx (the one the engine passed
// to Stream) with room for buffer chunks.
func NewChunkStream(ctx context.Context, buffer int) *ChunkStream {
	return &ChunkStream{
		ctx:    ctx,
		ch:     make(chan *altarv1.StreamChunk, buffer),
		closed: make(chan struct{}),
		fin:    make(chan struct{}),
	}
}

// Send queues a chunk. It blocks while the buffer is full and returns false
// when the stream was closed or its context ended instead.
func (s *ChunkStream) Send(c *altarv1.StreamChunk) bool {
	select {
	case s.ch <- c:
		return true
	case <-s.closed:
		return false
	case <-s.ctx.Done():
		return false
	}
}

// End ends the stream: after the queued chunks Recv returns io.EOF.
func (s *ChunkStream) End() { s.Fail(io.EOF) }

// Fail ends the stream with err after the queued chunks.
func (s *ChunkStream) Fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.end == nil {
		s.end = err
		close(s.fin)
	}
}

// Recv returns the next chunk.
func (s *ChunkStream) Recv() (*altarv1.StreamChunk, error) {
	select {
	case c := <-s.ch:
		return c, nil
	default:
	}
	select {
	case c := <-s.ch:
		return c, nil
	case <-s.fin:
		select {
		case c := <-s.ch:
			return c, nil
		default:
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return nil, s.end
	case <-s.closed:
		return nil, io.EOF
	case <-s.ctx.Done():
		return nil, s.ctx.Err()
	}
}

// Close closes the stream. Idempotent.
func (s *ChunkStream) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

// Closed is closed when Close has been called.
func (s *ChunkStream) Closed() <-chan struct{} { return s.closed }

var _ runtime.ChunkStream = (*ChunkStream)(nil)
