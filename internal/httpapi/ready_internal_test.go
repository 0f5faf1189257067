package httpapi

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestReadyAnswersWithinItsDeadline: a readiness check that never returns
// (a store that ignores its context) still gives /readyz an answer when
// the probe's deadline passes.
func TestReadyAnswersWithinItsDeadline(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ready(ctx, func(context.Context) error { <-block; return nil }) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("ready: %v, want the deadline", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ready did not return after its deadline")
	}
}
