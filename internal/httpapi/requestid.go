package httpapi

import (
	"context"
	"log/slog"
)

// requestIDs is a slog.Handler that adds the request's ID (request_id) to
// every record logged with a request's context, so that a security event
// and the access log line of its request share a key a SIEM can join on.
type requestIDs struct{ slog.Handler }

// WithRequestIDs returns l with request_id added to every record logged
// with a request's context: give it to the services a Server speaks for
// (the login service's security events) so their records join the access
// log's. Nil stays nil.
func WithRequestIDs(l *slog.Logger) *slog.Logger {
	if l == nil {
		return nil
	}
	return slog.New(withRequestIDs(l.Handler()))
}

// withRequestIDs wraps h; records logged outside a request are unchanged.
func withRequestIDs(h slog.Handler) slog.Handler {
	if _, ok := h.(requestIDs); ok {
		return h
	}
	return requestIDs{h}
}

func (h requestIDs) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDs) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDs{h.Handler.WithAttrs(as)}
}

func (h requestIDs) WithGroup(name string) slog.Handler {
	return requestIDs{h.Handler.WithGroup(name)}
}
