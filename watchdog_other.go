//go:build !linux

package main

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

// Watchdog stands in for the Linux watchdog device where there is none:
// smsgate supervises itself.
type Watchdog struct{}

var errNoWatchdog = fmt.Errorf("watchdog on %s: %w", runtime.GOOS, os.ErrNotExist)

// OpenWatchdog fails with an error wrapping os.ErrNotExist.
func OpenWatchdog(path string) (*Watchdog, error) {
	return nil, fmt.Errorf("open %s: %w", path, errNoWatchdog)
}

func (*Watchdog) SetTimeout(time.Duration) (time.Duration, error) { return 0, errNoWatchdog }
func (*Watchdog) Timeout() (time.Duration, error)                 { return 0, errNoWatchdog }
func (*Watchdog) Ping() error                                     { return errNoWatchdog }
func (*Watchdog) ResetByWatchdog() (bool, error)                  { return false, errNoWatchdog }
func (*Watchdog) Disarm() error                                   { return errNoWatchdog }
func (*Watchdog) LeaveArmed() error                               { return errNoWatchdog }

// watchdogCardReset reports whether a watchdog's boot status says the
// watchdog caused the last boot. doctor and the boot alert read sysfs
// wherever smsgate builds; 0x0020 is WDIOF_CARDRESET of linux/watchdog.h,
// which x/sys/unix defines for Linux only.
func watchdogCardReset(status uint64) bool { return status&0x0020 != 0 }
