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

// TestRatioCell: the cell is the median of the rounds' ratios, each round
// against its own pair, with the lowest and highest once there are three.
func TestRatioCell(t *testing.T) {
	series := func(rates ...int) benchSeries {
		var s benchSeries
		for _, r := range rates {
			s = append(s, loadOut{Requests: r, Seconds: 1})
		}
		return s
	}
	for _, c := range []struct {
		name string
		a, b benchSeries
		want string
	}{
		{"one round", series(70), series(100), "0.70"},
		{"two rounds", series(60, 80), series(100, 100), "0.70"},
		{"rounds paired, not medians divided", series(50, 90, 80), series(100, 100, 200), "0.50 (0.40, 0.90)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if diff := gocmp.Diff(c.want, ratioCell(c.a, c.b)); diff != "" {
				t.Errorf("ratioCell (-want +got):\n%s", diff)
			}
		})
	}
}
