package fault_test

import (
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/bizsec/bizsec/internal/fault"
)

// TestWhatAClientIsTold: an error's code, message and wait survive
// wrapping, and an error that is not the application's tells the client
// nothing of its internals.
func TestWhatAClientIsTold(t *testing.T) {
	wrapped := func(err error) error {
		fault.Wrap(&err, "store.Session(%x)", []byte{0xab})
		return fmt.Errorf("login: %w", err)
	}
	for _, tc := range []struct {
		name    string
		err     error
		code    fault.Code
		message string
		wait    time.Duration
	}{
		{"fault", fault.New(fault.NotFound, "user %q not found", "ada"), fault.NotFound, `user "ada" not found`, 0},
		{"wrapped fault", wrapped(fault.New(fault.Conflict, "taken")), fault.Conflict, "taken", 0},
		{"throttled", wrapped(fault.Throttled(3*time.Second, "slow down")), fault.TooMany, "slow down", 3 * time.Second},
		{"internal", wrapped(io.ErrUnexpectedEOF), fault.Internal, "An error occurred processing the call.", 0},
		{"joined", errors.Join(io.EOF, fault.New(fault.Invalid, "bad")), fault.Invalid, "bad", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fault.CodeOf(tc.err); got != tc.code {
				t.Errorf("CodeOf = %q, want %q", got, tc.code)
			}
			if got := fault.MessageOf(tc.err); got != tc.message {
				t.Errorf("MessageOf = %q, want %q", got, tc.message)
			}
			if got := fault.RetryAfterOf(tc.err); got != tc.wait {
				t.Errorf("RetryAfterOf = %v, want %v", got, tc.wait)
			}
		})
	}
}

// TestWrap keeps nil nil and the operation in front of the cause.
func TestWrap(t *testing.T) {
	var err error
	fault.Wrap(&err, "op")
	if err != nil {
		t.Errorf("Wrap of nil = %v, want nil", err)
	}
	err = io.EOF
	fault.Wrap(&err, "store.Get(%q)", "acme")
	if !errors.Is(err, io.EOF) || err.Error() != `store.Get("acme"): EOF` {
		t.Errorf("Wrap = %q (Is EOF %v)", err, errors.Is(err, io.EOF))
	}
}
