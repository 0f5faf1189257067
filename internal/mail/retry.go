package mail

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/textproto"
	"sync/atomic"
	"time"
)

// Sender sends one message.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Events a Retrying sender reports to its Observe function.
const (
	EventSent    = "sent"    // delivered (at the first try or after retries)
	EventRetried = "retried" // a transient failure, to be tried again
	EventFailed  = "failed"  // given up: a permanent failure, tries spent or the deadline reached
)

// Retrying sends through Next and retries transient failures (the relay
// unreachable, a 4xx reply such as greylisting or a full queue) with
// exponential backoff and jitter, within the caller's deadline: a 2FA code
// is mailed while its login waits, so retries there fit in the request's
// time; a notice sent after the answer has a minute. A permanent failure
// (a 5xx reply: the relay refuses the sender, the address or the
// credentials; a malformed message) is not retried.
//
// Retrying holds its retries in memory; Queue, which serve uses, keeps
// messages in the database and retries them with the same policy.
type Retrying struct {
	Next     Sender
	Attempts int           // tries in all; default 4
	Base     time.Duration // first wait; default 250ms, doubled each time
	Max      time.Duration // longest wait; default 10s
	// Observe hears of each event (EventSent, EventRetried, EventFailed).
	Observe func(event string)

	inFlight atomic.Int64
}

// InFlight is the number of messages being sent or waiting for a retry.
func (r *Retrying) InFlight() int64 { return r.inFlight.Load() }

// Send delivers m, retrying as described on Retrying.
func (r *Retrying) Send(ctx context.Context, m Message) error {
	r.inFlight.Add(1)
	defer r.inFlight.Add(-1)
	attempts := r.attempts()
	for try := 1; ; try++ {
		err := r.Next.Send(ctx, m)
		if err == nil {
			r.observe(EventSent)
			return nil
		}
		pause := r.pause(try)
		if try >= attempts || Permanent(err) || !fitsDeadline(ctx, pause) {
			r.observe(EventFailed)
			return err
		}
		r.observe(EventRetried)
		select {
		case <-ctx.Done():
			r.observe(EventFailed)
			return errors.Join(err, ctx.Err())
		case <-time.After(pause):
		}
	}
}

// attempts is the number of tries in all.
func (r *Retrying) attempts() int {
	if r.Attempts <= 0 {
		return 4
	}
	return r.Attempts
}

// pause is the wait after the try-th failed try: Base, then doubled each
// time up to Max, with full jitter around it, so that instances retrying after
// one relay outage do not come back in step.
func (r *Retrying) pause(try int) time.Duration {
	wait, longest := r.Base, r.Max
	if wait <= 0 {
		wait = 250 * time.Millisecond
	}
	if longest <= 0 {
		longest = 10 * time.Second
	}
	for i := 1; i < try; i++ {
		wait = min(2*wait, longest)
	}
	return wait/2 + rand.N(wait/2+1)
}

func (r *Retrying) observe(event string) {
	if r.Observe != nil {
		r.Observe(event)
	}
}

// fitsDeadline reports whether ctx leaves time for a pause and a try.
func fitsDeadline(ctx context.Context, pause time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline) > pause
}

// Permanent reports whether an error will not go away by trying again: a
// 5xx SMTP reply, or a message that cannot be rendered.
func Permanent(err error) bool {
	var reply *textproto.Error
	if errors.As(err, &reply) {
		return reply.Code >= 500
	}
	return errors.Is(err, errHeaderBreak)
}
