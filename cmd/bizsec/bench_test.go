package main

import (
	"testing"

	gocmp "github.com/google/go-cmp/cmp" // cmp is benchload.go's
)

// TestPairsAlternate: the rounds alternate which side runs first, and each
// result lands in its own side's series whatever the order.
func TestPairsAlternate(t *testing.T) {
	for _, c := range []struct {
		rounds int
		order  string
	}{
		{1, "al"},
		{2, "alla"},
		{3, "allaal"},
	} {
		var order string
		n := 0
		measure := func(side string) func() (loadOut, error) {
			return func() (loadOut, error) {
				order += side
				n++
				return loadOut{Requests: n, FirstErr: side}, nil
			}
		}
		as, limits, err := pairs(c.rounds, measure("a"), measure("l"))
		if err != nil {
			t.Fatal(err)
		}
		if diff := gocmp.Diff(c.order, order); diff != "" {
			t.Errorf("%d rounds: order (-want +got):\n%s", c.rounds, diff)
		}
		for i := range c.rounds {
			if as[i].FirstErr != "a" || limits[i].FirstErr != "l" {
				t.Errorf("%d rounds: round %d has %q and %q", c.rounds, i, as[i].FirstErr, limits[i].FirstErr)
			}
		}
	}
}
