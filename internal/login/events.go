package login

import (
	"context"
	"log/slog"
	"strings"

	"github.com/bizsec/bizsec/internal/store"
)

// Security events are log records with stable names and keys that the
// Elastic Common Schema and OpenTelemetry accept: event.action,
// event.outcome (success, failure, pending), tenant, user.id, user.email
// (masked: the first letter and the domain), client.address and a reason.
// Every login outcome, 2FA step, reset step, suspension, unlock, throttle
// refusal, password and session change is one. No secret is ever a value.

// actor is who an event is about, and from where.
type actor struct {
	tenant, userID, email, client string
}

func (s *Service) event(ctx context.Context, level slog.Level, msg, action, outcome string, a actor, attrs ...slog.Attr) {
	if !s.log.Enabled(ctx, level) {
		return
	}
	base := []slog.Attr{slog.String("event.action", action), slog.String("event.outcome", outcome)}
	if a.tenant != "" {
		base = append(base, slog.String("tenant", a.tenant))
	}
	if a.userID != "" {
		base = append(base, slog.String("user.id", a.userID))
	}
	if a.email != "" {
		base = append(base, slog.String("user.email", MaskEmail(a.email)))
	}
	if a.client != "" {
		base = append(base, slog.String("client.address", a.client))
	}
	s.log.LogAttrs(ctx, level, msg, append(base, attrs...)...)
}

// MaskEmail shows enough of an address to tell accounts apart in a log
// and not enough to harvest it: "d***@acme.example".
func MaskEmail(email string) string {
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" {
		return "***"
	}
	r := []rune(local)
	return string(r[0]) + "***@" + domain
}

type clientAddrKey struct{}

// withClientAddr notes the client's address for the events of a request.
func withClientAddr(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientAddrKey{}, ip)
}

// clientOf is the client's address noted for this request, or the one the
// HTTP layer gave the store for the sessions it starts.
func clientOf(ctx context.Context) string {
	if ip, ok := ctx.Value(clientAddrKey{}).(string); ok {
		return ip
	}
	return store.ClientOf(ctx).Addr
}
