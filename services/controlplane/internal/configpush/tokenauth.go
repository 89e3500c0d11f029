package configpush

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"pictor/services/controlplane/internal/auth"
)

var (
	// Edges may ping every 10 s, even between streams, without being sent
	// GOAWAY for "too many pings".
	keepaliveEnforcement = keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}
	// The server pings an idle connection after 30 s and drops it if the
	// ping is not answered in 10 s, so dead edges do not linger as connected.
	keepaliveParams = keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}
)

// tokenAuth admits calls carrying "authorization: Bearer <edge token>".
type tokenAuth struct {
	token string
	log   *slog.Logger
}

func (a tokenAuth) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := a.check(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return handler(srv, ss)
}

func (a tokenAuth) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := a.check(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (a tokenAuth) check(ctx context.Context, method string) error {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	reason := ""
	switch {
	case len(vals) == 0:
		reason = "missing"
	case len(vals) > 1:
		reason = "repeated"
	default:
		scheme, tok, ok := strings.Cut(vals[0], " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || !auth.TokenEqual(tok, a.token) {
			reason = "wrong"
		}
	}
	if reason == "" {
		return nil
	}
	addr := ""
	if p, ok := peer.FromContext(ctx); ok {
		addr = p.Addr.String()
	}
	a.log.Warn("edge call refused: bad token", "reason", reason, "method", method, "peer", addr)
	return status.Error(codes.Unauthenticated, "missing or wrong edge token")
}
