package httpapi

import (
	"context"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// registerFeedMetrics exports how current this instance's cached view is:
// the change feed's lag (the age of the newest proof that every change
// before it was applied), whether memory is trusted, and the changes
// applied. Past store.StaleBound of lag the caches are off and /readyz
// answers 503.
func (s *Server) registerFeedMetrics() {
	lag := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "bizsec_change_feed_lag_seconds",
		Help: "Age of the newest proof that every change committed before it has been applied (+Inf without one).",
	}, func() float64 {
		st := s.store.Feed()
		if st.Lag == math.MaxInt64 {
			return math.Inf(1)
		}
		return st.Lag.Seconds()
	})
	live := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "bizsec_change_feed_live",
		Help: "1 while sessions, roles and settings may be served from memory (the feed is proven live), else 0.",
	}, func() float64 {
		if s.store.Feed().Live {
			return 1
		}
		return 0
	})
	changes := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "bizsec_change_feed_changes_total",
		Help: "Change notifications applied to this instance's caches.",
	}, func() float64 { return float64(s.store.Feed().Changes) })
	last := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "bizsec_change_feed_last_change_timestamp_seconds",
		Help: "When the newest change notification was applied (0: none yet).",
	}, func() float64 {
		t := s.store.Feed().LastChange
		if t.IsZero() {
			return 0
		}
		return float64(t.UnixNano()) / 1e9
	})
	s.metrics.registry.MustRegister(lag, live, changes, last)
}

// registerQueueMetrics exports the depth of the queues behind the answers:
// notices waiting for the notice worker, resets waiting for a mail worker.
func (s *Server) registerQueueMetrics() {
	notices := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "bizsec_notice_queue_depth", Help: "Notices (suspension, email change) waiting to be mailed.",
	}, func() float64 { return float64(s.login.NoticeQueueLen()) })
	resets := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "bizsec_reset_queue_depth", Help: "Password reset requests waiting for a mail worker (-1: the database did not answer).",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		n, err := s.store.ResetQueueLen(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
	s.metrics.registry.MustRegister(notices, resets)
}
