package conformance

import (
	"context"
	"net"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// recordingProxy is a real RuntimeService on loopback that forwards each
// runtime's stream to a Host's RuntimeService unchanged and records what
// the runtime sent during its bootstrap: the kinds of its messages (without
// heartbeats) and the tools it offered, and the contracts the Host made
// available. It lets the bootstrap check see GetAvailableContracts, which
// the Host neither logs nor audits.
type recordingProxy struct {
	altarv1.UnimplementedRuntimeServiceServer
	upstream altarv1.RuntimeServiceClient
	addr     string

	mu        sync.Mutex
	sent      []string // message kinds, runtime to Host, bounded by maxRecorded
	offered   []string // tool names in FulfillTools
	available []string // contract names in AvailableContracts
}

const maxRecorded = 64

// startProxy serves a recordingProxy in front of hostAddr until t ends.
func startProxy(t *testing.T, hostAddr string) *recordingProxy {
	t.Helper()
	cc, err := grpc.NewClient(hostAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &recordingProxy{upstream: altarv1.NewRuntimeServiceClient(cc), addr: lis.Addr().String()}
	srv := grpc.NewServer()
	altarv1.RegisterRuntimeServiceServer(srv, p)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-served
		_ = cc.Close()
	})
	return p
}

// Connect forwards one runtime's stream. The Host-to-runtime pump is
// waited for; the runtime-to-Host one ends when gRPC ends the stream after
// Connect returns (Recv on a server stream cannot be interrupted sooner).
func (p *recordingProxy) Connect(down altarv1.RuntimeService_ConnectServer) error {
	ctx, cancel := context.WithCancel(down.Context())
	defer cancel()
	up, err := p.upstream.Connect(ctx)
	if err != nil {
		return err
	}
	errc := make(chan error, 2)
	go func() {
		for {
			m, err := down.Recv()
			if err != nil {
				_ = up.CloseSend()
				errc <- err
				return
			}
			p.recordRuntime(m)
			if err := up.Send(m); err != nil {
				errc <- err
				return
			}
		}
	}()
	hostDone := make(chan struct{})
	go func() {
		defer close(hostDone)
		for {
			m, err := up.Recv()
			if err != nil {
				errc <- err
				return
			}
			p.recordHost(m)
			if err := down.Send(m); err != nil {
				errc <- err
				return
			}
		}
	}()
	err = <-errc
	cancel()
	<-hostDone
	return err
}

func (p *recordingProxy) recordRuntime(m *altarv1.RuntimeMessage) {
	kind := ""
	switch msg := m.GetMessage().(type) {
	case *altarv1.RuntimeMessage_Heartbeat:
		return
	case *altarv1.RuntimeMessage_Announce:
		kind = "announce"
	case *altarv1.RuntimeMessage_GetAvailableContracts:
		kind = "discover"
	case *altarv1.RuntimeMessage_FulfillTools:
		kind = "fulfil"
		p.mu.Lock()
		for _, o := range msg.FulfillTools.GetTools() {
			if len(p.offered) < maxRecorded {
				p.offered = append(p.offered, o.GetContractName())
			}
		}
		p.mu.Unlock()
	case *altarv1.RuntimeMessage_RegisterTools:
		kind = "register"
	case *altarv1.RuntimeMessage_ToolResult:
		kind = "result"
	case *altarv1.RuntimeMessage_StreamChunk:
		kind = "chunk"
	case *altarv1.RuntimeMessage_WithdrawTools:
		kind = "withdraw"
	default:
		kind = "other"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.sent) < maxRecorded {
		p.sent = append(p.sent, kind)
	}
}

func (p *recordingProxy) recordHost(m *altarv1.HostMessage) {
	ac := m.GetAvailableContracts()
	if ac == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range ac.GetContracts() {
		if len(p.available) < maxRecorded {
			p.available = append(p.available, c.GetName())
		}
	}
}

// recorded returns what the proxy saw: the runtime's message kinds, the
// tools it offered (sorted) and the contracts the Host listed (sorted).
func (p *recordingProxy) recorded() (sent, offered, available []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	offered, available = slices.Clone(p.offered), slices.Clone(p.available)
	slices.Sort(offered)
	slices.Sort(available)
	return slices.Clone(p.sent), offered, available
}
