package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fakeWatchdog struct {
	mu                  sync.Mutex
	pings               int
	disarmed, leftArmed bool
}

func (w *fakeWatchdog) Ping() error       { w.mu.Lock(); w.pings++; w.mu.Unlock(); return nil }
func (w *fakeWatchdog) Disarm() error     { w.disarmed = true; return nil }
func (w *fakeWatchdog) LeaveArmed() error { w.leftArmed = true; return nil }
func (w *fakeWatchdog) count() int        { w.mu.Lock(); defer w.mu.Unlock(); return w.pings }

// beat is a loop heartbeat the test moves by hand.
type beat struct {
	mu sync.Mutex
	t  time.Time
}

func (b *beat) get() time.Time  { b.mu.Lock(); defer b.mu.Unlock(); return b.t }
func (b *beat) set(t time.Time) { b.mu.Lock(); b.t = t; b.mu.Unlock() }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestSupervisorFeedsOnlyALiveLoop(t *testing.T) {
	clk := newFakeClock()
	b := &beat{t: clk.Now()}
	dev := &fakeWatchdog{}
	s := &Supervisor{dev: dev, every: time.Millisecond, budget: time.Minute, lastBeat: b.get,
		log: slog.New(slog.DiscardHandler), now: clk.Now}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	waitFor(t, "pings", func() bool { return dev.count() > 3 })

	// The loop stalls past its budget: feeding stops.
	clk.Advance(2 * time.Minute)
	time.Sleep(20 * time.Millisecond)
	stalledAt := dev.count()
	time.Sleep(50 * time.Millisecond)
	if dev.count() != stalledAt {
		t.Fatal("fed a stalled loop's watchdog")
	}
	// The loop completes an iteration again: feeding resumes.
	b.set(clk.Now())
	waitFor(t, "pings again", func() bool { return dev.count() > stalledAt })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if dev.disarmed || dev.leftArmed {
		t.Error("the supervisor stopped a device it does not own")
	}
}

func TestSelfSupervisionExitsOnStall(t *testing.T) {
	clk := newFakeClock()
	b := &beat{t: clk.Now()}
	s := &Supervisor{budget: 4 * time.Millisecond, lastBeat: b.get, log: slog.New(slog.DiscardHandler), now: clk.Now}
	done := make(chan error)
	go func() { done <- s.Run(context.Background()) }()
	select {
	case err := <-done:
		t.Fatalf("exited while alive: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	clk.Advance(time.Second)
	if err := <-done; !errors.Is(err, errStalled) {
		t.Fatalf("err = %v, want errStalled", err)
	}
}

// A modem that never answers is not a stall: every iteration ends within
// its step timeout, so the loop keeps beating.
func TestDeadModemIsNotAStall(t *testing.T) {
	h := newHarness(t, "mf920v", func(c *GatewayConfig) {
		c.PollInterval = time.Millisecond
		c.StepTimeout = 50 * time.Millisecond
	})
	h.sim.SetFaults(func(f *SimFaults) { f.Slow = time.Hour })
	h.gw.now = time.Now
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.gw.Run(ctx)
	start := time.Now()
	waitFor(t, "three iterations", func() bool { return h.gw.LastBeat().After(start.Add(120 * time.Millisecond)) })
}

// TestSelfSupervisionWakesOnlyForTheBudget: without a watchdog to feed, the
// supervisor looks at the loop when the budget would run out, not every
// second: an idle process's wakeups cost it more than its polls
// (BENCHMARKS.md).
func TestSelfSupervisionWakesOnlyForTheBudget(t *testing.T) {
	var looks atomic.Int32
	s := &Supervisor{budget: 400 * time.Millisecond, log: slog.New(slog.DiscardHandler), now: time.Now,
		lastBeat: func() time.Time { looks.Add(1); return time.Now() }} // always alive
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	time.Sleep(600 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := looks.Load(); n > 2 {
		t.Errorf("looked at the loop %d times in 600 ms with a 400 ms budget; want at most 2", n)
	}
}

// The loop's heartbeat keeps the monotonic clock reading: the supervisor
// measures real time since the last iteration, and a step of the wall
// clock (NTP setting a Pi without a clock chip) is not a stall.
func TestHeartbeatIgnoresWallClockSteps(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	h.gw.now = time.Now
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.gw.Run(ctx)
	start := time.Now()
	waitFor(t, "an iteration", func() bool { return h.gw.LastBeat().After(start) })
	// Only a time.Time read from the monotonic clock prints "m=".
	if b := h.gw.LastBeat(); !strings.Contains(b.String(), " m=") {
		t.Errorf("heartbeat %s has no monotonic reading: a wall-clock step would look like a stall", b)
	}
}
