package httpapi

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/login"
)

// pendingTask resolves POST /api/login/pendingtasks
// {"parameters":{"2fa.verification.code":"123456","Action":"validate"}}.
func (s *Server) pendingTask(w http.ResponseWriter, r *http.Request, q *request) error {
	if _, err := jsonTypes.requestType(r); err != nil {
		return err
	}
	// Fields beyond "parameters" are ignored: the platform's body has more
	// that its documentation does not show.
	var in struct {
		Parameters map[string]string `json:"parameters"`
	}
	body, err := readAll(w, r, 16<<10)
	if _, ok := err.(*fault.Error); ok {
		return err
	}
	if err != nil {
		return fault.New(fault.Invalid, "the request body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return fault.New(fault.Invalid, "the request body is empty")
	}
	if err := decodeJSONObject(body, &in, false); err != nil {
		return err
	}
	if action := in.Parameters["Action"]; !strings.EqualFold(action, "validate") {
		return fault.New(fault.Invalid, `parameters.Action must be "validate", got %q`, clip(action, 40))
	}
	task, code := login.TaskTwoFA, in.Parameters[login.TaskTwoFA]
	if assertion := in.Parameters[login.TaskWebAuthn]; assertion != "" && code == "" {
		task, code = login.TaskWebAuthn, assertion
	}
	if code == "" {
		return fault.New(fault.Invalid, "parameters.%s is required", login.TaskTwoFA)
	}
	tenant, err := s.hostTenant(r)
	if err != nil {
		return err
	}
	res, err := s.login.CompleteTask(s.withClient(r, auth.MethodTwoFA), tenant, s.authCookie(r, tenant), task, code, s.clientIP(r))
	if err != nil {
		return err
	}
	s.answerSession(w, r, q, res)
	return nil
}
