package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/bizsec/bizsec/internal/fault"
)

// The body budget bounds the memory that request bodies hold at once. It is
// charged as bytes arrive, never for what a client announces: a connection
// that announces 256 KiB and sends one byte holds one chunk. Every byte held
// is charged decodeFactor times (the buffer, the syntax pass, the value it
// decodes into), so that the budget bounds what bodies cost, not only their
// text.
// One client (address, as clientIP names it) holds at most perClientShare
// of the budget, so strangers cannot fill it from one place.
const (
	// firstChunk is the buffer a body starts with; it grows by doubling.
	firstChunk = 4 << 10
	// decodeFactor is what each byte held is charged: the buffer, the
	// decoder's pass over it and the value it decodes into.
	decodeFactor = 3
	// budgetWait is how long a body waits for room before 503.
	budgetWait = 5 * time.Second
	// loginBodyTimeout bounds the time to receive a login service body, all
	// small: a slow sender loses the connection rather than hold a slot.
	loginBodyTimeout = 5 * time.Second
	// perClientDivisor: one client holds at most budget/perClientDivisor,
	// and never less than a few of the largest bodies.
	perClientDivisor = 16
)

// bodyBudget is the server's budget for body memory and each client's share.
type bodyBudget struct {
	total     *semaphore.Weighted
	size      int64
	perClient int64

	mu      sync.Mutex
	clients map[string]int64 // client -> bytes charged
}

func newBodyBudget(size int64) *bodyBudget {
	return &bodyBudget{total: semaphore.NewWeighted(size), size: size,
		perClient: max(size/perClientDivisor, min(size, 4*decodeFactor*maxBody)), clients: map[string]int64{}}
}

// errBusy answers a body that found no room in the budget.
func errBusy() error {
	e := fault.New(fault.Unavailable, "the server is busy receiving other requests; try again")
	e.RetryAfter = time.Second
	return e
}

// charge takes n bytes for client: from the client's share at once (or
// refuses), then from the total, waiting up to budgetWait. capped is false
// for a caller already authenticated, who is not a stranger.
func (b *bodyBudget) charge(ctx context.Context, client string, capped bool, n int64) error {
	if n > b.size {
		return errBusy()
	}
	if capped {
		b.mu.Lock()
		if b.clients[client]+n > b.perClient {
			b.mu.Unlock()
			return errBusy()
		}
		b.clients[client] += n
		b.mu.Unlock()
	}
	if b.total.TryAcquire(n) { // as Acquire does at once when none waits, without its timer
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, budgetWait)
	defer cancel()
	if err := b.total.Acquire(ctx, n); err != nil {
		b.refundClient(client, capped, n)
		return errBusy()
	}
	return nil
}

func (b *bodyBudget) refund(client string, capped bool, n int64) {
	if n > 0 {
		b.total.Release(n)
		b.refundClient(client, capped, n)
	}
}

func (b *bodyBudget) refundClient(client string, capped bool, n int64) {
	if !capped {
		return
	}
	b.mu.Lock()
	if b.clients[client] -= n; b.clients[client] <= 0 {
		delete(b.clients, client)
	}
	b.mu.Unlock()
}

// bodyAccount is one request's charge against the budget, released when
// its handler returns.
type bodyAccount struct {
	budget  *bodyBudget
	ctx     context.Context
	client  string
	capped  bool // the client's share applies: an anonymous caller
	charged int64
	arrived func() // called once the whole body is in
}

func (a *bodyAccount) grow(n int64) error {
	if err := a.budget.charge(a.ctx, a.client, a.capped, n*decodeFactor); err != nil {
		return err
	}
	a.charged += n * decodeFactor
	return nil
}

func (a *bodyAccount) done() {
	if a != nil && a.arrived != nil {
		a.arrived()
	}
}

func (a *bodyAccount) release() {
	a.budget.refund(a.client, a.capped, a.charged)
	a.charged = 0
}

// budgetBody is a request body read under the budget: readAll finds the
// account through it.
type budgetBody struct {
	io.ReadCloser
	account *bodyAccount
}

// errTooLarge is the body being over its limit.
var errTooLarge = errors.New("body too large")

// readAll reads a body of at most limit bytes. The buffer starts small and
// doubles as bytes arrive, each growth charged to the request's account
// first (waiting for room, or 503), so that the memory held follows what
// was received, never what was announced.
func readAll(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	var acct *bodyAccount // nil: a body outside the routes, not charged
	if bb, ok := r.Body.(*budgetBody); ok {
		acct = bb.account
	}
	want := limit + 1 // one more than allowed tells too long from exactly limit
	if n := r.ContentLength; n >= 0 && n < want {
		want = n
	}
	var buf []byte
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) >= want {
				if want > limit {
					return nil, errTooLarge
				}
				// Content-Length reached: a further byte means the body lies.
				var one [1]byte
				if n, _ := r.Body.Read(one[:]); n > 0 {
					w.Header().Set("Connection", "close")
					return nil, errTooLarge
				}
				acct.done()
				return buf, nil
			}
			size := min(max(2*int64(cap(buf)), firstChunk), want)
			if acct != nil {
				if err := acct.grow(size - int64(cap(buf))); err != nil {
					// The rest of the body is not read: the connection
					// closes after the answer instead of waiting for it.
					w.Header().Set("Connection", "close")
					return nil, err
				}
			}
			next := make([]byte, len(buf), size)
			copy(next, buf)
			buf = next
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			w.Header().Set("Connection", "close")
			return nil, errTooLarge
		}
		if err == io.EOF {
			acct.done()
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
