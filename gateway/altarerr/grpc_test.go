package altarerr_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/altar-gateway/altar/gateway/altarerr"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// testTimeout bounds every call over the loopback connection.
const testTimeout = 10 * time.Second

// failingHost is a HostService whose GetHostInfo fails with the error set
// by fail.
type failingHost struct {
	altarv1.UnimplementedHostServiceServer
	mu  sync.Mutex
	err error
}

func (h *failingHost) fail(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.err = err
}

func (h *failingHost) GetHostInfo(context.Context, *altarv1.GetHostInfoRequest) (*altarv1.GetHostInfoResponse, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return nil, h.err
}

// serveHost serves srv on a loopback listener and returns a client to it;
// both are shut down when the test ends.
func serveHost(t *testing.T, srv altarv1.HostServiceServer) altarv1.HostServiceClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	altarv1.RegisterHostServiceServer(s, srv)
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	t.Cleanup(func() {
		s.Stop()
		if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("Serve: %v", err)
		}
	})

	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := conn.Close(); err != nil {
			t.Errorf("closing client: %v", err)
		}
	})
	return altarv1.NewHostServiceClient(conn)
}

func TestErrorOverRealGRPC(t *testing.T) {
	sent := altarerr.Wrap(altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS, errors.New("schema check"),
		"arguments do not match %s", "weather@1.2.0").
		WithField("/city", "required", "is required").
		WithField("/days", "maximum", "must be <= 14").
		WithDetail("tool", "weather")
	sent.RetryAfter = 1500 * time.Millisecond
	sent.CorrelationID = "corr-42"
	sent.InvocationID = "inv-42"

	// The handler returns it wrapped, as handlers do.
	h := &failingHost{}
	h.fail(errors.Join(errors.New("context"), sent))
	client := serveHost(t, h)

	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	resp, err := client.GetHostInfo(ctx, &altarv1.GetHostInfoRequest{})
	if err == nil {
		t.Fatalf("GetHostInfo = %v, want an error", resp)
	}
	if got := status.Code(err); got != codes.InvalidArgument {
		t.Errorf("gRPC code = %v, want InvalidArgument", got)
	}

	got := altarerr.From(err)
	if got.Code != altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS {
		t.Errorf("Code = %v, want INVALID_ARGUMENTS", got.Code)
	}
	if want := "arguments do not match weather@1.2.0: schema check"; got.Message != want {
		t.Errorf("Message = %q, want %q", got.Message, want)
	}
	if got.RetryAfter != 1500*time.Millisecond {
		t.Errorf("RetryAfter = %v, want 1.5s", got.RetryAfter)
	}
	if got.CorrelationID != "corr-42" || got.InvocationID != "inv-42" {
		t.Errorf("ids = %q, %q, want corr-42, inv-42", got.CorrelationID, got.InvocationID)
	}
	if got.Details["tool"] != "weather" {
		t.Errorf("Details = %v", got.Details)
	}
	if len(got.Fields) != 2 {
		t.Fatalf("Fields = %v, want 2", got.Fields)
	}
	for i, f := range sent.Fields {
		if !proto.Equal(got.Fields[i], f) {
			t.Errorf("field %d = %v, want %v", i, got.Fields[i], f)
		}
	}
	if !errors.Is(got, altarerr.New(altarv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENTS, "")) {
		t.Error("the received error does not match its code with errors.Is")
	}
}

func TestEveryCodeOverRealGRPC(t *testing.T) {
	h := &failingHost{}
	client := serveHost(t, h)
	for _, c := range altarv1.Codes() {
		h.fail(altarerr.New(c, "failed with %v", c))
		ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
		_, err := client.GetHostInfo(ctx, &altarv1.GetHostInfoRequest{})
		cancel()
		if want := codes.Code(c.Info().GRPCCode); status.Code(err) != want {
			t.Errorf("%v: gRPC code = %v, want %v", c, status.Code(err), want)
		}
		if got := altarerr.From(err); got.Code != c {
			t.Errorf("%v: From(err).Code = %v", c, got.Code)
		}
	}
}
