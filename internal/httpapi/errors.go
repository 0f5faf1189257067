package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/bizsec/bizsec/internal/fault"
)

// Codes that exist only at the HTTP edge.
const (
	notAcceptable    fault.Code = "NotAcceptable"
	unsupportedType             = fault.Unsupported
	methodNotAllowed fault.Code = "MethodNotAllowed"
)

// statusOf is the one place where error codes become HTTP statuses.
func statusOf(code fault.Code) int {
	switch code {
	case fault.Invalid:
		return http.StatusBadRequest
	case fault.Unauthorized, fault.Locked:
		return http.StatusUnauthorized
	case fault.Forbidden:
		return http.StatusForbidden
	case fault.NotFound:
		return http.StatusNotFound
	case fault.Conflict:
		return http.StatusConflict
	case fault.PreconditionErr:
		return http.StatusPreconditionFailed
	case notAcceptable:
		return http.StatusNotAcceptable
	case unsupportedType:
		return http.StatusUnsupportedMediaType
	case methodNotAllowed:
		return http.StatusMethodNotAllowed
	case fault.Unavailable:
		return http.StatusServiceUnavailable
	case fault.TooMany:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// faultBody is the platform's error body, in JSON and XML.
type faultBody struct {
	XMLName     xml.Name `json:"-" xml:"Fault"`
	FaultCode   string   `json:"faultcode" xml:"faultcode"`
	FaultString string   `json:"faultstring" xml:"faultstring"`
}

// retryAfterDeadline is what a request that ran out of time asks the client
// to wait before trying again.
const retryAfterDeadline = time.Second

// classify gives errors that are not *fault.Error but have a meaning for
// the client their fault: a request whose database work ran out of time
// (context.DeadlineExceeded) is 503 with Retry-After, not 500.
func classify(err error) error {
	if fault.CodeOf(err) == fault.Internal && errors.Is(err, context.DeadlineExceeded) {
		e := fault.New(fault.Unavailable, "the server could not answer in time; try again")
		e.RetryAfter = retryAfterDeadline
		return fmt.Errorf("%w: %w", e, err)
	}
	return err
}

// writeError sends err in the platform's error format. Errors that are not
// *fault.Error are logged and answered with a generic 500.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, mediaType string, err error) {
	err = classify(err)
	code := fault.CodeOf(err)
	if code == fault.Unavailable && errors.Is(err, context.DeadlineExceeded) {
		log.WarnContext(r.Context(), "request ran out of time", "method", r.Method, "path", clip(r.URL.Path, maxLoggedPath), "err", err)
	}
	if code == fault.Internal {
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if d := fault.RetryAfterOf(err); d > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(d.Seconds())))
	}
	body := faultBody{FaultCode: string(code), FaultString: fault.MessageOf(err)}
	if mediaType == "" {
		mediaType = "application/json"
	}
	writeBody(w, statusOf(code), mediaType, body)
}

// writeBody encodes v as JSON or XML according to mediaType.
func writeBody(w http.ResponseWriter, status int, mediaType string, v any) {
	body, err := encode(mediaType, v)
	if err != nil {
		http.Error(w, `{"faultcode":"InternalError","faultstring":"An error occurred processing the call."}`, http.StatusInternalServerError)
		return
	}
	writeEncoded(w, status, mediaType, body)
}

// encode renders v as JSON or XML according to mediaType.
func encode(mediaType string, v any) ([]byte, error) {
	var buf bytes.Buffer
	var err error
	if isXML(mediaType) {
		buf.WriteString(xml.Header)
		err = xml.NewEncoder(&buf).Encode(v)
	} else {
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // as the platform: "<=>" stays "<=>"
		err = enc.Encode(v)
	}
	return buf.Bytes(), err
}

// Header values set on every answer, shared so they are not allocated per request.
var (
	noStore     = []string{"no-store"}
	contentType = map[string][]string{}
)

func init() {
	for _, types := range []mediaTypes{settingsTypes, twoFATypes, getChallengeTypes, jsonTypes, loginTypes} {
		for _, t := range types {
			contentType[t] = []string{t}
		}
	}
}

// writeEncoded sends a body already encoded in mediaType.
func writeEncoded(w http.ResponseWriter, status int, mediaType string, body []byte) {
	h := w.Header()
	if ct, ok := contentType[mediaType]; ok {
		h["Content-Type"] = ct
	} else {
		h.Set("Content-Type", mediaType)
	}
	h["Cache-Control"] = noStore
	w.WriteHeader(status)
	w.Write(body)
}
