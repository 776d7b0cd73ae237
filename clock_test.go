package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestZTEWaitPPPEndsInRealTime: the wait for the data link is timed by the
// clock its timer runs on. With the client's clock stopped (a test's fake
// clock, or a Pi whose wall clock NTP holds back) a link that never comes
// up still ends the wait at its limit, not when the caller's context does.
// Real time here: the simulator answers over loopback, outside any bubble.
func TestZTEWaitPPPEndsInRealTime(t *testing.T) {
	sim, m, _ := startSim(t, "mf920v", "pw", "pw") // m.now is a fake clock nobody advances
	sim.SetLink("ppp_disconnected", "4")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err := m.waitPPP(ctx, dataUp, "data up", 100*time.Millisecond)
	if err == nil || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "after 100ms") {
		t.Fatalf("err = %v after %s, want the wait's own limit", err, time.Since(start).Round(time.Millisecond))
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("a 100 ms wait took %s", took)
	}
}
