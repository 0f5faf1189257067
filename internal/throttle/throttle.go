// Package throttle bounds how often a key (a client address, an account)
// may do something: a token bucket per key, kept in memory with a bounded
// number of keys.
package throttle

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Rate is N events per Per, in bursts of up to N.
type Rate struct {
	N   int
	Per time.Duration
}

// ParseRate reads "N/duration", such as "120/1m" or "3/15m".
func ParseRate(s string) (Rate, error) {
	n, per, ok := strings.Cut(s, "/")
	r := Rate{}
	var err error
	if ok {
		r.N, err = strconv.Atoi(n)
		if err == nil {
			r.Per, err = time.ParseDuration(per)
		}
	}
	if !ok || err != nil || r.N < 1 || r.Per <= 0 {
		return Rate{}, fmt.Errorf("rate %q: want N/duration with N >= 1, such as 120/1m", s)
	}
	return r, nil
}

func (r Rate) String() string { return strconv.Itoa(r.N) + "/" + r.Per.String() }

// Limiter keeps one bucket per key. Full buckets are forgotten, so memory
// holds only keys that acted recently; past maxKeys live keys a new key is
// refused until some refill (under a spray of addresses, the limiter fails
// closed for newcomers rather than growing without bound).
type Limiter struct {
	rate    Rate
	maxKeys int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	sweepAt time.Time
}

// New returns a Limiter allowing r per key, for at most maxKeys keys at once.
func New(r Rate, maxKeys int) *Limiter {
	return &Limiter{rate: r, maxKeys: maxKeys, buckets: map[string]*rate.Limiter{}}
}

func (l *Limiter) limit() rate.Limit { return rate.Limit(float64(l.rate.N) / l.rate.Per.Seconds()) }

// bucket returns key's bucket, or nil when the limiter is full.
func (l *Limiter) bucket(key string, now time.Time) *rate.Limiter {
	b, ok := l.buckets[key]
	if ok {
		return b
	}
	if len(l.buckets) >= l.maxKeys || now.After(l.sweepAt) {
		l.sweep(now)
	}
	if len(l.buckets) >= l.maxKeys {
		return nil
	}
	b = rate.NewLimiter(l.limit(), l.rate.N)
	b.AllowN(now, 0) // start the bucket's clock at now: it is full
	l.buckets[key] = b
	return b
}

// sweep forgets full buckets: a key that comes back gets a full one anyway.
func (l *Limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.rate.N) {
			delete(l.buckets, k)
		}
	}
	l.sweepAt = now.Add(l.rate.Per)
}

// Allow takes one token from key's bucket at now. When there is none it
// takes nothing and reports how long until there is.
func (l *Limiter) Allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, now)
	if b == nil {
		return false, l.rate.Per
	}
	if b.AllowN(now, 1) {
		return true, 0
	}
	return false, l.wait(b, now)
}

// Check reports whether key has a token at now without taking it, and if
// not, how long until it has.
func (l *Limiter) Check(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		return true, 0 // a new key's bucket is full
	}
	if b.TokensAt(now) >= 1 {
		return true, 0
	}
	return false, l.wait(b, now)
}

// Reset gives key a full bucket again (an admin lifted a suspension).
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.buckets, key)
}

func (l *Limiter) wait(b *rate.Limiter, now time.Time) time.Duration {
	missing := 1 - b.TokensAt(now)
	return time.Duration(math.Ceil(missing / float64(l.limit()) * float64(time.Second)))
}
