package httpapi

import (
	"database/sql"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/bizsec/bizsec/internal/mail"
)

// Register adds collectors to the server's /metrics (the wiring's own:
// mail, pools).
func (s *Server) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := s.metrics.registry.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// MailMetrics counts what a retrying mailer reports, and shows how many
// messages it holds, as bizsec_mail_total{outcome} and bizsec_mail_in_flight.
type MailMetrics struct {
	total *prometheus.CounterVec
}

// NewMailMetrics returns the mail counters, each outcome at zero.
func NewMailMetrics() *MailMetrics {
	m := &MailMetrics{total: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "bizsec_mail_total", Help: "Mail events: sent, retried (a transient failure, tried again), failed (given up).",
	}, []string{"outcome"})}
	for _, o := range []string{mail.EventSent, mail.EventRetried, mail.EventFailed} {
		m.total.WithLabelValues(o)
	}
	return m
}

// Observe counts one event; it is a mail.Retrying's Observe.
func (m *MailMetrics) Observe(event string) { m.total.WithLabelValues(event).Inc() }

// Collectors are the counters and, for r, its in-flight gauge.
func (m *MailMetrics) Collectors(r *mail.Retrying) []prometheus.Collector {
	return []prometheus.Collector{m.total, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "bizsec_mail_in_flight", Help: "Messages being sent or waiting for a retry.",
	}, func() float64 { return float64(r.InFlight()) })}
}

// pools is what a store offers when it can show its connection pools.
type pools interface {
	DBPools() map[string]*sql.DB // "read", "write" (one pool on PostgreSQL: "main")
}

// RegisterStoreMetrics adds the drain state and, when the store shows
// them, its connection pools (go_sql_* with db_name); the change feed's
// metrics are registered by New (feed.go).
// It returns the pool names it found.
func (s *Server) RegisterStoreMetrics() ([]string, error) {
	feed := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "bizsec_draining", Help: "1 once SIGTERM started the drain: /readyz answers 503.",
		}, func() float64 {
			if s.Draining() {
				return 1
			}
			return 0
		}),
	}
	if err := s.Register(feed...); err != nil {
		return nil, err
	}
	p, ok := any(s.store).(pools)
	if !ok {
		return nil, nil
	}
	var names []string
	for name, db := range p.DBPools() {
		if err := s.Register(collectors.NewDBStatsCollector(db, name)); err != nil {
			return names, err
		}
		names = append(names, name)
	}
	return names, nil
}
