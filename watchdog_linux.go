package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Watchdog is an open Linux watchdog device (/dev/watchdog). Once opened it
// is armed: if nobody pings it within its timeout, the board resets.
type Watchdog struct {
	f *os.File
}

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
	return watchdogCardReset(uint64(s)), nil
}

// watchdogCardReset reports whether a watchdog's boot status, as the
// WDIOC_GETBOOTSTATUS ioctl or sysfs's bootstatus gives it, says the
// watchdog caused the last boot.
func watchdogCardReset(status uint64) bool { return status&unix.WDIOF_CARDRESET != 0 }

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
