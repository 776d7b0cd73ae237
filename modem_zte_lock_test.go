package main

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestDoctorAndDaemonShareOneModem drives doctor's checks and the daemon's
// poll on one ZTE client at once. In smsgate each Modem has one owner (the
// gateway, or doctor), but the client says it is safe for concurrent use:
// under go test -race, a helper on doctor's path that touches the
// client's state without m.mu (readKeys writing m.det did) is a reported
// race, and the modem must still see one request at a time.
func TestDoctorAndDaemonShareOneModem(t *testing.T) {
	sim, m, _ := startSim(t, "mc801a", "pw", "pw")
	sim.SetFaults(func(f *SimFaults) { f.Slow = time.Millisecond })
	sim.Deliver("+1555", "x", time.Now())
	ctx := context.Background()
	var wg sync.WaitGroup
	var doctor []check
	wg.Go(func() {
		for range 3 {
			doctor = append(m.DoctorChecks(ctx), m.DoctorChecksLate(ctx)...)
		}
	})
	wg.Go(func() {
		for range 20 {
			m.Poll(ctx)
			m.Inbox(ctx)
			_ = m.Detected()
		}
	})
	wg.Wait()
	if r := sim.Record(); r.MaxInFlight != 1 {
		t.Errorf("%d requests in flight at once, want 1", r.MaxInFlight)
	}
	levels := map[string]checkLevel{}
	for _, c := range doctor {
		levels[c.Name] = c.Level
	}
	for _, name := range []string{"goform", "counters", "firmware"} {
		if levels[name] == levelFail {
			t.Errorf("doctor's %s check failed beside the daemon: %+v", name, doctor)
		}
	}
	if l, ok := levels["counters"]; !ok || l != levelOK {
		t.Errorf("doctor read no counters beside the daemon's poll: %+v", doctor)
	}
}
