//go:build !linux

package main

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
)

// Rebooting is done only on Linux; elsewhere smsgate builds for the demo,
// the simulator and the one-shot commands.

func signalInit(syscall.Signal) error {
	return fmt.Errorf("signal init on %s: %w", runtime.GOOS, os.ErrNotExist)
}

func rebootNow() error {
	return fmt.Errorf("reboot on %s: %w", runtime.GOOS, os.ErrNotExist)
}
