package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
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

// The supervisor runs in a synctest bubble: time is the bubble's, so each
// feed interval is exact and every count below is what must happen, not
// what a scheduler happened to allow.
func TestSupervisorFeedsOnlyALiveLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &beat{t: time.Now()}
		dev := &fakeWatchdog{}
		s := &Supervisor{dev: dev, every: time.Second, budget: time.Minute, lastBeat: b.get,
			log: slog.New(slog.DiscardHandler)}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		at := func(d time.Duration, want int, why string) {
			t.Helper()
			time.Sleep(d)
			synctest.Wait()
			if got := dev.count(); got != want {
				t.Fatalf("%s: %d pings, want %d", why, got, want)
			}
		}
		at(0, 1, "at start")
		at(10*time.Second, 11, "a live loop, one ping a second")
		// No iteration since the start: fed while within the budget
		// (60 s, inclusive), then no more.
		at(50*time.Second, 61, "up to the budget")
		at(60*time.Second, 61, "a stalled loop")
		// The loop completes an iteration again: feeding resumes.
		b.set(time.Now())
		at(3*time.Second, 64, "alive again")
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if dev.disarmed || dev.leftArmed {
			t.Error("the supervisor stopped a device it does not own")
		}
	})
}

// A feed interval below 100 ms is raised to it: the feeding itself must
// not keep an idle Pi awake.
func TestSupervisorFeedsAtMostEvery100ms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dev := &fakeWatchdog{}
		s := &Supervisor{dev: dev, every: time.Millisecond, budget: time.Minute, lastBeat: time.Now,
			log: slog.New(slog.DiscardHandler)}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go s.Run(ctx)
		time.Sleep(time.Second)
		synctest.Wait()
		if got := dev.count(); got != 11 {
			t.Errorf("%d pings in a second, want 11 (at 0 and every 100 ms)", got)
		}
	})
}

func TestSelfSupervisionExitsOnStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &beat{t: time.Now()}
		s := &Supervisor{budget: 4 * time.Second, lastBeat: b.get, log: slog.New(slog.DiscardHandler)}
		done := make(chan error, 1)
		go func() { done <- s.Run(t.Context()) }()
		time.Sleep(4 * time.Second)
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("exited within the budget: %v", err)
		default:
		}
		time.Sleep(time.Second)
		synctest.Wait()
		select {
		case err := <-done:
			if !errors.Is(err, errStalled) {
				t.Fatalf("err = %v, want errStalled", err)
			}
		default:
			t.Fatal("still running a second past the budget")
		}
	})
}

// A modem that never answers is not a stall: every iteration ends within
// its step timeout, so the loop keeps beating. In a synctest bubble (the
// simulator on an in-memory pipe) the poll interval and step timeout are
// the defaults' order and the count of iterations is exact.
func TestDeadModemIsNotAStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newPipedHarness(t, "mf920v", func(c *GatewayConfig) {
			c.PollInterval = 10 * time.Second
			c.StepTimeout = 30 * time.Second
		})
		h.sim.SetFaults(func(f *SimFaults) { f.Slow = time.Hour })
		h.modem.timeout = time.Hour // only the step timeout ends a pass
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- h.gw.Run(ctx) }()
		start := h.clk.Now()
		// Each pass gives up after the step timeout; the next starts at
		// the following tick.
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if since := h.clk.Now().Sub(h.gw.LastBeat()); since > 40*time.Second || !h.gw.LastBeat().After(start.Add(time.Minute)) {
			t.Errorf("last beat %s ago after 2 minutes of a dead modem", since)
		}
		cancel()
		<-done
	})
}

// TestSelfSupervisionWakesOnlyForTheBudget: without a watchdog to feed, the
// supervisor looks at the loop when the budget would run out, not every
// second: an idle process's wakeups cost it more than its polls
// (BENCHMARKS.md).
func TestSelfSupervisionWakesOnlyForTheBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var looks atomic.Int32
		s := &Supervisor{budget: 400 * time.Millisecond, log: slog.New(slog.DiscardHandler),
			lastBeat: func() time.Time { looks.Add(1); return time.Now() }} // always alive
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		time.Sleep(600 * time.Millisecond)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := looks.Load(); n != 2 {
			t.Errorf("looked at the loop %d times in 600 ms with a 400 ms budget; want 2 (at 0 and as the budget ran out)", n)
		}
	})
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
