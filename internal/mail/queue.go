package mail

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bizsec/bizsec/internal/store"
)

// EventQueued is a message written to a Queue (beside EventSent,
// EventRetried and EventFailed, which a Queue reports too).
const EventQueued = "queued"

// Queue is the persisted mail queue: Send writes the message to the
// database, sealed, in the caller's request, and a worker (Start) sends it
// through Next with Policy's retries and backoff, so a message survives a
// restart or a crash of the process. A row is deleted once sent or given
// up (a permanent failure, or Policy's attempts spent). Instances sharing
// a database share the queue; each message is sent by one of them (at
// least once: one that dies mid-send leaves the row to come due again).
type Queue struct {
	Store *store.Store
	Next  Sender
	// Policy gives the attempts and the backoff between them (its Next is
	// not used) and hears the events.
	Policy *Retrying
	Log    *slog.Logger
	// Poll is how often the worker looks for messages that came due (after
	// a backoff, or queued by another instance); default 1s. A message
	// queued through this Queue wakes it at once.
	Poll time.Duration
	// SendTimeout bounds one try; default 30s.
	SendTimeout time.Duration

	wake   chan struct{}
	cancel context.CancelFunc
	done   sync.WaitGroup
	once   sync.Once
}

// NewQueue returns a queue over st sending through next. When next is a
// *Retrying, the queue sends through its Next and takes its policy, so the
// retries happen from the database rather than in memory.
func NewQueue(st *store.Store, next Sender, log *slog.Logger) *Queue {
	q := &Queue{Store: st, Next: next, Policy: &Retrying{}, Log: log}
	if r, ok := next.(*Retrying); ok {
		q.Next, q.Policy = r.Next, r
	}
	return q
}

func (q *Queue) init() {
	q.once.Do(func() {
		q.wake = make(chan struct{}, 1)
		if q.Log == nil {
			q.Log = slog.New(slog.DiscardHandler)
		}
		if q.Policy == nil {
			q.Policy = &Retrying{}
		}
	})
}

// Send queues m; it is sent by the worker.
func (q *Queue) Send(ctx context.Context, m Message) error {
	q.init()
	if err := q.Store.EnqueueMail(ctx, m.To, m.Subject, m.Body, time.Now()); err != nil {
		return err
	}
	q.Policy.observe(EventQueued)
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return nil
}

// Start runs the worker until Close.
func (q *Queue) Start() {
	q.init()
	ctx, cancel := context.WithCancel(context.Background())
	q.cancel = cancel
	q.done.Add(1)
	go func() {
		defer q.done.Done()
		q.run(ctx)
	}()
}

// Close stops the worker and waits for it; what is not sent stays queued.
func (q *Queue) Close() {
	if q.cancel != nil {
		q.cancel()
		q.done.Wait()
	}
}

// Depth is a gauge of the messages waiting in the queue.
func (q *Queue) Depth() prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "bizsec_mail_queued", Help: "Messages waiting in the persisted mail queue (to be sent, or retried after a failure).",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		n, err := q.Store.MailQueueLen(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
}

func (q *Queue) run(ctx context.Context) {
	poll := q.Poll
	if poll <= 0 {
		poll = time.Second
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		case <-timer.C:
		}
		for ctx.Err() == nil && q.sendDue(ctx) {
		}
		timer.Reset(poll)
	}
}

// sendDue sends the messages due now; it reports whether it found any.
func (q *Queue) sendDue(ctx context.Context) bool {
	timeout := q.SendTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	// The lease is taken under a context Close does not cancel: a lease
	// that committed while its answer was cancelled would hold the rows,
	// unsent, for the whole lease. Taken, they are sent or put back below.
	take, untake := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	due, err := q.Store.TakeMail(take, time.Now(), timeout+time.Minute, 16)
	untake()
	if err != nil && ctx.Err() == nil {
		q.Log.Warn("mail queue: cannot read the queue", "err", err)
	}
	// What was taken before an error is still sent (or put back).
	for _, m := range due {
		try := m.Attempts + 1
		sendCtx, cancel := context.WithTimeout(ctx, timeout)
		q.Policy.inFlight.Add(1) // bizsec_mail_in_flight: being sent now (bizsec_mail_queued: waiting)
		err := q.Next.Send(sendCtx, Message{To: m.To, Subject: m.Subject, Body: m.Body})
		q.Policy.inFlight.Add(-1)
		cancel()
		// The queue's own writes outlive a Close that interrupted the send.
		bg, done := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		var event string
		switch {
		case err == nil:
			event, err = EventSent, q.Store.MailDone(bg, m.ID)
		case Permanent(err) || try >= q.Policy.attempts():
			q.Log.Error("mail given up", "event.action", "mail-failed", "attempts", try, "err", err)
			event, err = EventFailed, q.Store.MailDone(bg, m.ID)
		default:
			q.Log.Warn("mail failed; it will be retried", "event.action", "mail-retried", "attempts", try, "err", err)
			event, err = EventRetried, q.Store.RetryMail(bg, m.ID, try, time.Now().Add(q.Policy.pause(try)))
		}
		done()
		if err != nil {
			q.Log.Warn("mail queue: cannot record a try", "err", err)
		}
		q.Policy.observe(event) // after the row's change, so that its count follows the table
	}
	return err == nil && len(due) > 0
}
