package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Watchdog is an open Linux watchdog device (/dev/watchdog). Once opened it
// is armed: if nobody pings it within its timeout, the board resets.
type Watchdog struct {
	f *os.File
}

// errWatchdogBusy means another process (gokrazy's init, systemd) holds the
// device.
var errWatchdogBusy = errors.New("watchdog device busy: another process feeds it")

// OpenWatchdog opens and thereby arms the device at path. A missing device
// yields an error wrapping os.ErrNotExist, a device held by someone else one
// wrapping errWatchdogBusy.
func OpenWatchdog(path string) (*Watchdog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		if errors.Is(err, unix.EBUSY) {
			return nil, fmt.Errorf("open %s: %w", path, errWatchdogBusy)
		}
		return nil, fmt.Errorf("open watchdog: %w", err)
	}
	return &Watchdog{f: f}, nil
}

func (w *Watchdog) fd() int { return int(w.f.Fd()) }

// SetTimeout asks for timeout and returns what the device actually applied
// (drivers round, and clamp to their maximum: 15 s on the BCM2835).
func (w *Watchdog) SetTimeout(timeout time.Duration) (time.Duration, error) {
	if err := unix.IoctlSetPointerInt(w.fd(), unix.WDIOC_SETTIMEOUT, int(timeout/time.Second)); err != nil {
		return 0, fmt.Errorf("watchdog set timeout %s: %w", timeout, err)
	}
	return w.Timeout()
}

// Timeout reads the device's timeout.
func (w *Watchdog) Timeout() (time.Duration, error) {
	s, err := unix.IoctlGetInt(w.fd(), unix.WDIOC_GETTIMEOUT)
	if err != nil {
		return 0, fmt.Errorf("watchdog get timeout: %w", err)
	}
	return time.Duration(s) * time.Second, nil
}

// Ping restarts the device's countdown.
func (w *Watchdog) Ping() error {
	if err := unix.IoctlWatchdogKeepalive(w.fd()); err != nil {
		return fmt.Errorf("watchdog ping: %w", err)
	}
	return nil
}

// ResetByWatchdog reports whether the device says it caused the last boot.
func (w *Watchdog) ResetByWatchdog() (bool, error) {
	s, err := unix.IoctlGetInt(w.fd(), unix.WDIOC_GETBOOTSTATUS)
	if err != nil {
		return false, fmt.Errorf("watchdog boot status: %w", err)
	}
	return s&unix.WDIOF_CARDRESET != 0, nil
}

// Disarm stops the watchdog with the magic close ('V' then close). Drivers
// built with nowayout ignore it and keep counting.
func (w *Watchdog) Disarm() error {
	if _, err := w.f.Write([]byte("V")); err != nil {
		w.f.Close()
		return fmt.Errorf("watchdog magic close: %w", err)
	}
	return w.f.Close()
}

// LeaveArmed closes the device without disarming it: the board resets
// unless someone opens and feeds it again in time.
func (w *Watchdog) LeaveArmed() error { return w.f.Close() }

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
	now      func() time.Time
}

// Run feeds until ctx ends; stopping the device is for whoever opened it
// (hardware.Close). With no device it returns errStalled when the loop
// stalls.
func (s *Supervisor) Run(ctx context.Context) error {
	every := max(s.every, 100*time.Millisecond)
	if s.dev == nil {
		every = max(min(s.budget/4, time.Second), time.Millisecond)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	stalled := false
	for {
		since := s.now().Sub(s.lastBeat())
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
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
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
