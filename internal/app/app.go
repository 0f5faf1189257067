// Package app wires the services the HTTP API speaks for, in one place for
// the binary's Main and the end-to-end tests alike, so that a server under
// test is built as the one operators run.
package app

import (
	"github.com/bizsec/bizsec/internal/httpapi"
	"github.com/bizsec/bizsec/internal/login"
	"github.com/bizsec/bizsec/internal/settingsvc"
)

// NewAPI builds the login service, the settings service and the server
// speaking for them, with the metrics they share. What lc leaves unset
// (store, clock, logger) it takes from hc. It starts nothing: a server
// calls Start on the login service, a one-shot command does not.
func NewAPI(lc login.Config, hc httpapi.Config) (*httpapi.Server, *login.Service) {
	if hc.Metrics == nil {
		hc.Metrics = httpapi.NewMetrics()
	}
	lc.Metrics = hc.Metrics
	if lc.Store == nil {
		lc.Store = hc.Store
	}
	if lc.Now == nil {
		lc.Now = hc.Now
	}
	if lc.Logger == nil {
		lc.Logger = hc.Logger
	}
	lc.Logger = httpapi.WithRequestIDs(lc.Logger) // the services' events carry their request's ID
	svc := login.New(lc)
	hc.Login, hc.Settings = svc, settingsvc.New(hc.Store, lc.Logger)
	return httpapi.New(hc), svc
}
