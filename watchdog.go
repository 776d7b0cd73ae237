package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// errWatchdogBusy means another process (gokrazy's init, systemd) holds the
// device.
var errWatchdogBusy = errors.New("watchdog device busy: another process feeds it")

// watchdogDevice is what the supervisor and the hardware's Close need of
// a Watchdog.
type watchdogDevice interface {
	Ping() error
	Disarm() error
	LeaveArmed() error
}

// errStalled ends smsgate when the poll loop is stuck and no hardware
// watchdog will reset the board: the supervisor (gokrazy, systemd) restarts
// the process instead.
var errStalled = errors.New("poll loop stalled")

// Supervisor feeds the watchdog only while the poll loop proves it is
// alive. A modem that does not answer is not a stall: every request has a
// deadline, so the loop still completes iterations.
type Supervisor struct {
	dev      watchdogDevice // nil: self-supervision only
	every    time.Duration  // feed interval: a third of the timeout
	budget   time.Duration  // longest an iteration may take
	lastBeat func() time.Time
	log      *slog.Logger
}

// Run feeds until ctx ends; stopping the device is for whoever opened it
// (hardware.Close). With no device it returns errStalled when the loop
// stalls.
func (s *Supervisor) Run(ctx context.Context) error {
	// With a watchdog to feed, wake every feed interval. Without one, wake
	// only when the budget would run out: each wakeup of an idle process
	// costs more CPU than a poll (BENCHMARKS.md).
	var tick <-chan time.Time
	if s.dev != nil {
		t := time.NewTicker(max(s.every, 100*time.Millisecond))
		defer t.Stop()
		tick = t.C
	}
	stalled := false
	for {
		since := time.Since(s.lastBeat())
		switch {
		case since <= s.budget:
			if stalled {
				s.log.Warn("poll loop alive again; feeding the watchdog")
				stalled = false
			}
			if s.dev != nil {
				if err := s.dev.Ping(); err != nil {
					s.log.Error("watchdog ping failed", "err", err)
				}
			}
		case s.dev == nil:
			s.log.Error("poll loop stalled; exiting so the supervisor restarts smsgate", "since_last_iteration", since.Round(time.Second), "budget", s.budget)
			return fmt.Errorf("%w for %s", errStalled, since.Round(time.Second))
		case !stalled:
			stalled = true
			s.log.Error("poll loop stalled; no longer feeding the watchdog, the board will reset", "since_last_iteration", since.Round(time.Second), "budget", s.budget)
		}
		next := tick
		if s.dev == nil {
			next = time.After(max(s.budget-since, 0) + time.Millisecond)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-next:
		}
	}
}

// openSupervisedWatchdog opens path for the supervisor, or says once why
// smsgate falls back to self-supervision.
func openSupervisedWatchdog(path string, timeout time.Duration, log *slog.Logger) (*Watchdog, time.Duration) {
	if path == "" {
		log.Info("hardware watchdog disabled (-watchdog empty); self-supervision only")
		return nil, 0
	}
	w, err := OpenWatchdog(path)
	if err != nil {
		log.Warn("hardware watchdog not used; self-supervision only", "err", err)
		return nil, 0
	}
	applied, err := w.SetTimeout(timeout)
	if err != nil {
		log.Warn("watchdog timeout not set; using the device's", "err", err)
		if applied, err = w.Timeout(); err != nil {
			log.Error("watchdog timeout unknown; self-supervision only", "err", err)
			w.Disarm()
			return nil, 0
		}
	}
	if applied != timeout {
		log.Warn("watchdog applied another timeout", "asked", timeout, "applied", applied)
	}
	if reset, err := w.ResetByWatchdog(); err == nil && reset {
		log.Warn("LAST BOOT WAS CAUSED BY THE WATCHDOG")
	} else if err == nil {
		log.Info("last boot was not caused by the watchdog")
	}
	log.Info("hardware watchdog armed", "device", path, "timeout", applied)
	return w, applied
}
