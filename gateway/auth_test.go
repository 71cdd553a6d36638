package gateway_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/altar-gateway/altar/gateway"
	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/auth"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

func TestAPIKeysByRole(t *testing.T) {
	cfg := gateway.DefaultConfig()
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.ManifestPaths = []string{"testdata/host.yaml"}
	cfg.Keys = []auth.Key{
		{ID: "app", Role: auth.RoleClient, Hash: auth.HashKey("client-key")},
		{ID: "rt", Role: auth.RoleRuntime, Hash: auth.HashKey("runtime-key")},
		{ID: "ops", Role: auth.RoleAdmin, Hash: auth.HashKey("admin-key")},
	}
	h, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Close(context.Background()) }()
	cc, err := grpc.NewClient(h.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	host := altarv1.NewHostServiceClient(cc)
	with := func(key string) context.Context {
		ctx := ctxT(t)
		if key == "" {
			return ctx
		}
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
	}

	tests := []struct {
		name string
		call func(ctx context.Context) error
		key  string
		want altarv1.ErrorCode
	}{
		{"no key", func(ctx context.Context) error {
			_, err := host.ListTools(ctx, &altarv1.ListToolsRequest{})
			return err
		}, "", altarv1.ErrorCode_ERROR_CODE_UNAUTHENTICATED},
		{"wrong key", func(ctx context.Context) error {
			_, err := host.ListTools(ctx, &altarv1.ListToolsRequest{})
			return err
		}, "nope", altarv1.ErrorCode_ERROR_CODE_UNAUTHENTICATED},
		{"client key on the Host API", func(ctx context.Context) error {
			_, err := host.ListTools(ctx, &altarv1.ListToolsRequest{})
			return err
		}, "client-key", 0},
		{"runtime key on the Host API", func(ctx context.Context) error {
			_, err := host.ListTools(ctx, &altarv1.ListToolsRequest{})
			return err
		}, "runtime-key", altarv1.ErrorCode_ERROR_CODE_PERMISSION_DENIED},
		{"client key switching modes", func(ctx context.Context) error {
			_, err := host.SetHostMode(ctx, &altarv1.SetHostModeRequest{Mode: altarv1.HostMode_HOST_MODE_DEVELOPMENT})
			return err
		}, "client-key", altarv1.ErrorCode_ERROR_CODE_PERMISSION_DENIED},
		{"admin key switching modes", func(ctx context.Context) error {
			_, err := host.SetHostMode(ctx, &altarv1.SetHostModeRequest{Mode: altarv1.HostMode_HOST_MODE_STRICT, Reason: "test"})
			return err
		}, "admin-key", 0},
		{"client key dialling as a runtime", func(ctx context.Context) error {
			s, err := altarv1.NewRuntimeServiceClient(cc).Connect(ctx)
			if err != nil {
				return err
			}
			_, err = s.Recv()
			return err
		}, "client-key", altarv1.ErrorCode_ERROR_CODE_PERMISSION_DENIED},
		{"health needs no key", func(ctx context.Context) error {
			_, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
			return err
		}, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(with(tt.key))
			if got := altarerr.CodeOf(err); got != tt.want {
				t.Fatalf("code = %v (%v), want %v", got, err, tt.want)
			}
		})
	}
}

func TestNoKeysMeansLoopbackOnly(t *testing.T) {
	cfg := gateway.DefaultConfig()
	cfg.GRPCAddr = "0.0.0.0:0"
	err := cfg.Validate()
	if e := altarerr.From(err); e == nil || e.Code != altarv1.ErrorCode_ERROR_CODE_INVALID_CONFIG || e.Fields[0].GetPath() != "grpc_addr" {
		t.Fatalf("err = %v", err)
	}
	cfg.Keys = []auth.Key{{ID: "ops", Role: auth.RoleAdmin, Hash: auth.HashKey("k")}}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("with keys: %v", err)
	}
}
