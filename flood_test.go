package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

const floodText = "SMS from strangers within an hour"

// markAllRead makes every message in the simulator's inbox read, as the
// owner reading them in the web UI.
func markAllRead(sim *Sim) {
	sim.mu.Lock()
	defer sim.mu.Unlock()
	for _, m := range sim.msgs {
		if m.tag == "1" {
			m.tag = "0"
		}
	}
}

// TestFloodJudgedBySMSDates: a stranger flood is 20 or more strangers'
// SMS dated within an hour of each other, the newest within the last hour;
// messages already read when first seen are none of it. The witness's
// case: an old, already read backlog of 25 SMS from 25 numbers, 3 hours
// apart, sent the owner a flood alert at every start.
func TestFloodJudgedBySMSDates(t *testing.T) {
	for _, tt := range []struct {
		name  string
		n     int
		every time.Duration // between SMS dates
		ago   time.Duration // the newest SMS date's age at start
		read  bool
		alert bool
	}{
		{"old read backlog, 3 h apart (witness)", 25, 3 * time.Hour, 3 * time.Hour, true, false},
		{"unread backlog, 3 h apart", 25, 3 * time.Hour, 10 * time.Minute, false, false},
		{"unread backlog within an hour, two days old", 25, time.Minute, 48 * time.Hour, false, false},
		{"unread backlog within an hour, two hours old", 25, time.Minute, 2 * time.Hour, false, false},
		{"read, within the last hour", 25, time.Minute, 5 * time.Minute, true, false},
		{"19 unread within the last hour", 19, time.Minute, 5 * time.Minute, false, false},
		{"20 unread over 76 minutes", 20, 4 * time.Minute, 5 * time.Minute, false, false},
		{"20 unread within the last hour, found at start", 20, 3 * time.Minute, 50 * time.Minute, false, true},
		{"25 unread within the last hour, found at start", 25, time.Minute, 5 * time.Minute, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, "mf920v", nil)
			newest := h.clk.Now().Add(-tt.ago)
			for i := range tt.n {
				h.sim.Deliver(fmt.Sprintf("+49151123450%02d", i), fmt.Sprint("note ", i), newest.Add(-time.Duration(tt.n-1-i)*tt.every))
			}
			if tt.read {
				markAllRead(h.sim)
			}
			for range 5 { // the alert waits until smsgate has run a minute
				h.step()
				h.clk.Advance(30 * time.Second)
			}
			got := h.replyCount(floodText)
			if want := map[bool]int{true: 1, false: 0}[tt.alert]; got != want {
				t.Errorf("%d flood alerts, want %d: %q", got, want, h.replies())
			}
		})
	}
}

// TestFloodAlertRestarts: the witness's old read backlog, and
// smsgate started 4 times without -state-dir: no alert at all (it sent 4).
// A real flood, with -state-dir, is told once however often smsgate
// starts in the next 24 hours.
func TestFloodAlertRestarts(t *testing.T) {
	t.Run("old backlog, no -state-dir", func(t *testing.T) {
		h := newHarness(t, "mf920v", nil)
		for i := range 25 {
			h.sim.Deliver(fmt.Sprintf("+49151123450%02d", i), "old note", h.clk.Now().Add(-time.Duration(25-i)*3*time.Hour))
		}
		markAllRead(h.sim)
		for range 4 {
			h.restart()
			h.steps(3)
			h.clk.Advance(5 * time.Second)
		}
		if n := h.replyCount(floodText); n != 0 {
			t.Errorf("%d flood alerts over 4 starts: %q", n, h.replies())
		}
	})
	t.Run("recent flood, -state-dir", func(t *testing.T) {
		dir := t.TempDir()
		h := newHarness(t, "mf920v", func(c *GatewayConfig) { c.StateDir = dir })
		for i := range 25 {
			h.sim.Deliver(fmt.Sprintf("+49151123450%02d", i), "spam", h.clk.Now().Add(-time.Duration(25-i)*time.Minute))
		}
		for range 4 {
			for range 5 {
				h.step()
				h.clk.Advance(30 * time.Second)
			}
			h.restart()
		}
		if n := h.replyCount(floodText); n != 1 {
			t.Errorf("%d flood alerts over 4 starts, want 1: %q", n, h.replies())
		}
	})
}

// TestFloodLiveAndClockless: strangers texting while smsgate runs are a
// flood by their SMS dates, not by when smsgate got to read them; on a Pi
// without a plausible clock, "recent" is judged against the newest SMS date.
func TestFloodLiveAndClockless(t *testing.T) {
	t.Run("one every 4 minutes for 2 hours: no flood", func(t *testing.T) {
		h := newHarness(t, "mf920v", nil)
		h.sim.Capacity = 200
		for i := range 30 {
			h.sim.Deliver(fmt.Sprintf("+49151123450%02d", i), "hi", h.clk.Now())
			h.clk.Advance(4 * time.Minute)
			h.step()
		}
		if n := h.replyCount(floodText); n != 0 {
			t.Errorf("%d flood alerts: %q", n, h.replies())
		}
	})
	t.Run("read late: 20 in 20 minutes, read in one go an hour later", func(t *testing.T) {
		// The modem was unreachable for a while: what counts is when the
		// SMS were sent, and they are still within the last hour.
		h := newHarness(t, "mf920v", nil)
		h.step()
		h.sim.SetFaults(func(f *SimFaults) { f.Unreachable = true })
		for i := range 20 {
			h.sim.Deliver(fmt.Sprintf("+49151123450%02d", i), "hi", h.clk.Now())
			h.clk.Advance(time.Minute)
			h.step()
		}
		h.sim.SetFaults(func(f *SimFaults) { f.Unreachable = false })
		h.clk.Advance(30 * time.Minute)
		h.steps(2)
		if n := h.replyCount(floodText); n != 1 {
			t.Errorf("%d flood alerts, want 1: %q", n, h.replies())
		}
	})
	for _, tt := range []struct {
		name  string
		every time.Duration
		alert bool
	}{
		{"no clock: 25 within an hour, the newest SMS", time.Minute, true},
		{"no clock: 25, 3 h apart", 3 * time.Hour, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, "mf920v", nil)
			boot := h.clk.Now()
			h.gw.now = func() time.Time { return time.Date(1970, 1, 1, 0, 1, 0, 0, time.UTC).Add(h.clk.Now().Sub(boot)) }
			for i := range 25 {
				h.sim.Deliver(fmt.Sprintf("+49151123450%02d", i), "hi", h.clk.Now().Add(-time.Duration(25-i)*tt.every))
			}
			for range 5 {
				h.step()
				h.clk.Advance(30 * time.Second)
			}
			if n := h.replyCount(floodText); n != map[bool]int{true: 1, false: 0}[tt.alert] {
				t.Errorf("%d flood alerts, want alert %v: %q", n, tt.alert, h.replies())
			}
		})
	}
}

// TestFloodAlertText: the alert says what it always said.
func TestFloodAlertText(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	for i := range 20 {
		h.sim.Deliver(fmt.Sprintf("+49151123450%02d", i), "hi", h.clk.Now())
	}
	h.step()
	h.clk.Advance(time.Minute)
	h.step()
	r := h.replies()
	if len(r) != 1 || !strings.HasSuffix(r[0], "20 SMS from strangers within an hour; ignored and left in the inbox (see the log)") {
		t.Errorf("sent %q", r)
	}
}

// TestFloodAlertWaitsAMinute: a recent flood in the inbox and smsgate
// restarted every 20 s without -state-dir (a crash loop) texts nothing;
// once a start runs a minute, the owner gets one alert.
func TestFloodAlertWaitsAMinute(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	for i := range 25 {
		h.sim.Deliver(fmt.Sprintf("+49151123450%02d", i), "spam", h.clk.Now().Add(-time.Duration(25-i)*time.Minute))
	}
	for range 5 {
		h.restart()
		h.step()
		h.clk.Advance(10 * time.Second)
		h.step()
		h.clk.Advance(10 * time.Second)
	}
	if n := h.replyCount(floodText); n != 0 {
		t.Fatalf("%d flood alerts from 5 starts of 20 s: %q", n, h.replies())
	}
	h.restart()
	for range 10 {
		h.step()
		h.clk.Advance(15 * time.Second)
	}
	if n := h.replyCount(floodText); n != 1 {
		t.Errorf("%d flood alerts once smsgate ran a minute, want 1: %q", n, h.replies())
	}
}

// TestFloodDates: the window rule on its own, at its edges.
func TestFloodDates(t *testing.T) {
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	spaced := func(n int, newest time.Time, every time.Duration) []time.Time {
		var ts []time.Time
		for i := range n {
			ts = append(ts, newest.Add(-time.Duration(i)*every))
		}
		return ts
	}
	for _, tt := range []struct {
		name  string
		dates []time.Time
		flood bool
	}{
		{"20 spanning exactly an hour", spaced(20, now, time.Hour/19), true},
		{"20 spanning an hour and a second", spaced(20, now, (time.Hour+19*time.Second)/19), false},
		{"20, the newest an hour old", spaced(20, now.Add(-time.Hour), time.Minute), true},
		{"20, the newest an hour and a second old", spaced(20, now.Add(-time.Hour-time.Second), time.Minute), false},
		{"20 dated in the next hour", spaced(20, now.Add(time.Hour), time.Minute), true},
		{"20 dated two days ahead", spaced(20, now.Add(48*time.Hour), time.Minute), false},
		{"20 without a plausible date", spaced(20, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Minute), false},
		{"500 a second apart", spaced(500, now, time.Second), true},
	} {
		var f floodDates
		got := false
		for _, d := range tt.dates {
			got = f.add(d, now) || got
		}
		if got != tt.flood || len(f) > floodKeep {
			t.Errorf("%s: flood %v (%d kept), want %v", tt.name, got, len(f), tt.flood)
		}
	}
}

// TestAlertHeldDoesNotHoldOthers: an alert held until smsgate has run a
// minute neither goes out nor counts before, and does not hold up another.
func TestAlertHeldDoesNotHoldOthers(t *testing.T) {
	clk := newFakeClock()
	a := NewAlerts([]string{"+1"}, 10, slog.New(slog.DiscardHandler))
	a.AddAfter(clk.Now(), "flood", clk.Now().Add(time.Minute))
	a.Add(clk.Now(), "inbox full")
	o := &outbox{}
	a.Flush(context.Background(), clk.Now(), o.send)
	if fmt.Sprint(o.sent) != "[+1: smsgate 12:00: inbox full]" || len(a.Sent()) != 1 || a.Pending() != 1 {
		t.Fatalf("sent %q, %d counted, %d pending", o.sent, len(a.Sent()), a.Pending())
	}
	clk.Advance(time.Minute)
	a.Flush(context.Background(), clk.Now(), o.send)
	if len(o.sent) != 2 || o.sent[1] != "+1: smsgate 12:00: flood" {
		t.Errorf("sent %q", o.sent)
	}
}
