package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/bizsec/bizsec/internal/fault"
)

type auditEntryWire struct {
	ID      int64           `json:"ID"`
	Time    string          `json:"Time"`
	UserID  string          `json:"UserID"`
	Email   string          `json:"Email,omitempty"`
	Setting string          `json:"Setting"`
	Version int64           `json:"Version"`
	Old     json.RawMessage `json:"Old"`
	New     json.RawMessage `json:"New"`
}

// getAudit lists a business's settings changes, newest first:
// and account events (suspended, unlocked, expired); ?setting=loginpolicy to narrow, ?limit=N (at most 500), ?before=ID to page.
func (s *Server) getAudit(w http.ResponseWriter, r *http.Request, req *request) error {
	q := r.URL.Query()
	var err error
	limit, before := 100, int64(0)
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil {
			return fault.New(fault.Invalid, "limit must be 1 to 500")
		}
	}
	if v := q.Get("before"); v != "" {
		if before, err = strconv.ParseInt(v, 10, 64); err != nil || before < 1 {
			return fault.New(fault.Invalid, "before must be an entry ID")
		}
	}
	entries, err := s.settings.Audit(r.Context(), req.business.ID, q.Get("setting"), limit, before)
	if err != nil {
		return err
	}
	out := struct {
		AuditEntry []auditEntryWire `json:"AuditEntry"`
	}{AuditEntry: []auditEntryWire{}}
	for _, e := range entries {
		out.AuditEntry = append(out.AuditEntry, auditEntryWire{ID: e.ID, Time: e.At.UTC().Format(time.RFC3339Nano),
			UserID: e.Actor, Email: e.ActorEmail, Setting: e.Kind, Version: e.Version, Old: e.Old, New: e.New})
	}
	writeBody(w, http.StatusOK, req.mediaType, out)
	return nil
}
