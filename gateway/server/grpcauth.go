package server

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/altar-gateway/altar/gateway/altarerr"
	"github.com/altar-gateway/altar/gateway/auth"
	altarv1 "github.com/altar-gateway/altar/proto/altar/v1"
)

// GRPCAuth returns interceptors that authenticate every call from its
// "authorization" metadata ("Bearer <key>") and put the principal in the
// context. With no keys configured every caller is auth.Anonymous (the
// gateway then listens on loopback only). The runtime service takes runtime
// and admin keys; the Host API takes client and admin keys (admin-only
// methods check the role themselves); health checks need no key.
func GRPCAuth(keys *auth.KeySet) []grpc.ServerOption {
	check := func(ctx context.Context, method string) (context.Context, error) {
		if strings.HasPrefix(method, "/grpc.health.v1.Health/") {
			return ctx, nil
		}
		if keys.Empty() {
			return auth.WithPrincipal(ctx, auth.Anonymous), nil
		}
		var presented string
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			if v := md.Get("authorization"); len(v) > 0 {
				presented = v[0]
			}
		}
		p, err := keys.Authenticate(presented)
		if err != nil {
			return nil, altarerr.From(err).GRPCStatus().Err()
		}
		runtimeAPI := strings.HasPrefix(method, "/"+altarv1.RuntimeService_ServiceDesc.ServiceName+"/")
		allowed := p.Role == auth.RoleAdmin || (runtimeAPI && p.Role == auth.RoleRuntime) || (!runtimeAPI && p.Role == auth.RoleClient)
		if !allowed {
			return nil, altarerr.New(altarv1.ErrorCode_ERROR_CODE_PERMISSION_DENIED,
				"a %s key may not call %s", p.Role, method).GRPCStatus().Err()
		}
		return auth.WithPrincipal(ctx, p), nil
	}
	unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		ctx, err := check(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
	stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
		ctx, err := check(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		return next(srv, &contextStream{ServerStream: ss, ctx: ctx})
	}
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(unary), grpc.ChainStreamInterceptor(stream)}
}

type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }
