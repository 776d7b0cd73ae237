package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// growingParts is the gateway's modem where an incomplete message's listed
// text grows as more of its parts arrive (still not all of them).
type growingParts struct {
	gatewayModem
	grown bool
}

func (g *growingParts) Inbox(ctx context.Context) ([]SMS, error) {
	msgs, err := g.gatewayModem.Inbox(ctx)
	if g.grown {
		for i := range msgs {
			if !msgs[i].Complete {
				msgs[i].Text += " and part two"
			}
		}
	}
	return msgs, err
}

// A stranger's long SMS missing parts, seen first with one part and a poll
// later with two (of three), is still the message logged at first sight:
// it can go to make room, so a flood of such messages cannot fill the
// inbox for good (found by a cold review: the fingerprint taken at first
// sight no longer matched).
func TestIncompleteStrangerGrowingPartsStillMakesRoom(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	h.sim.Capacity = 30
	gp := &growingParts{gatewayModem: h.gw.modem}
	h.gw.modem = gp
	long := strings.Repeat("spam ", 60)
	for i := 0; i < 15; i++ {
		h.sim.DeliverIncomplete("+3360000000", fmt.Sprintf("%d %s", i, long), h.clk.Now())
	}
	h.step() // first sight: one part each; 15 < 30-10, no room needed
	gp.grown = true
	// The owner's own incomplete messages (never deleted) bring it to 23.
	for i := 0; i < 8; i++ {
		h.sim.DeliverIncomplete(owner, fmt.Sprintf("status %d %s", i, long), h.clk.Now())
	}
	for i := 0; i < 10; i++ {
		h.clk.Advance(30 * time.Second)
		h.step()
	}
	if d := h.sim.Record().Dropped; d > 0 {
		t.Errorf("%d messages dropped", d)
	}
	if n := len(h.roomLines()); n == 0 {
		t.Errorf("no room made: inbox holds %d of %d", len(h.sim.Inbox()), h.sim.Capacity)
	}
}
