package main

import (
	"fmt"
	"testing"
	"time"
)

// A live stranger flood in UTC-4 on firmware that writes the zone in hours
// ("-4") is dated as pass.age dates it, not 3 hours back, and alerts
// (found by a cold review).
func TestFloodDatedAsAgeDatesIt(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	dates := h.useDates()
	for i := range 25 {
		id := h.sim.Deliver(fmt.Sprintf("+49151123450%02d", i), fmt.Sprint("note ", i), h.clk.Now())
		dates[id] = stamp(h.clk.Now().Add(-time.Duration(25-i)*time.Minute), -4*time.Hour, "-4")
	}
	for range 5 {
		h.step()
		h.clk.Advance(30 * time.Second)
	}
	if got := h.replyCount(floodText); got != 1 {
		t.Errorf("%d flood alerts for 25 strangers' SMS in the last 25 minutes, want 1", got)
	}
}
