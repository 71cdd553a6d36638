// Command benchruntime is the runtime process of the three-process
// benchmark (e2e/perf/three-process.sh). It runs the calculator tools twice
// over: as an ALTAR runtime dialled in to a Host (--host), and behind a
// HostService.Invoke server of its own (--direct-addr) that runs the same
// tool code with no Host in between, so that a client can time the same call
// both ways with the same messages.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"google.golang.org/grpc"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/plugins/examples/calculator/calc"
	"github.com/altar-gateway/altar/plugins/sdk"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchruntime:", err)
		os.Exit(1)
	}
}

func run() error {
	host := flag.String("host", "127.0.0.1:50051", "the Host's gRPC address")
	direct := flag.String("direct-addr", "127.0.0.1:50061", "where to serve HostService.Invoke directly")
	id := flag.String("id", "calculator", "runtime id")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	rt, err := sdk.New(*id, calc.Tools(), sdk.WithLogger(log))
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", *direct)
	if err != nil {
		return err
	}
	srv := grpc.NewServer()
	altarv1.RegisterHostServiceServer(srv, &directService{h: rt.Handler()})
	fmt.Printf("benchruntime: GOMAXPROCS=%d direct=%s host=%s\n", runtime.GOMAXPROCS(0), lis.Addr(), *host)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(lis) }()
	go func() { errc <- rt.Serve(ctx, *host) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		if err != nil && ctx.Err() == nil {
			srv.Stop()
			return err
		}
	}
	srv.GracefulStop()
	return nil
}

// directService answers Invoke by running the tool in this process.
type directService struct {
	altarv1.UnimplementedHostServiceServer
	h *sdk.Handler
}

func (d *directService) Invoke(ctx context.Context, req *altarv1.InvokeRequest) (*altarv1.InvokeResponse, error) {
	res := d.h.Invoke(ctx, &altarv1.ToolCall{
		InvocationId:  req.GetInvocationId(),
		CorrelationId: req.GetCorrelationId(),
		ToolName:      req.GetToolName(),
		Parameters:    req.GetParameters(),
	})
	if res.GetStatus() != altarv1.ToolResultStatus_TOOL_RESULT_STATUS_SUCCESS && res.GetError() != nil {
		return nil, altarerr.FromProto(res.GetError()).GRPCStatus().Err()
	}
	return &altarv1.InvokeResponse{Result: res}, nil
}
