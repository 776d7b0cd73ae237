package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"time"
)

// rebootConfig is how -reboot-mode and -reboot-grace say to reboot.
type rebootConfig struct {
	mode  string // auto, init, syscall
	grace time.Duration
}

// systemRebooter reboots the machine smsgate runs on. Only main makes one
// (newSystemRebooter); tests give the daemon rebooters that cannot reboot
// (TestOnlyMainMakesTheSystemRebooter).
type systemRebooter struct {
	rebootConfig
	log *slog.Logger
}

func newSystemRebooter(c rebootConfig, log *slog.Logger) rebooter {
	return &systemRebooter{rebootConfig: c, log: log}
}

// Reboot reboots. In init mode it asks PID 1 for an orderly reboot and falls
// back to reboot(2) if the machine is still up after the grace period; if
// init stops smsgate meanwhile, the reboot is under way and nothing more is
// done.
func (r *systemRebooter) Reboot(ctx context.Context) error {
	mode, sig := r.mode, syscall.SIGTERM
	if mode != "syscall" {
		detected, dsig := detectInit()
		if mode == "auto" {
			mode = detected
		}
		if dsig != 0 {
			sig = dsig
		}
	}
	if os.Getpid() == 1 {
		mode = "syscall" // nobody else to ask
	}
	if mode == "init" {
		r.log.Info("asking init to reboot", "pid", 1, "signal", sig.String())
		if err := signalInit(sig); err != nil {
			r.log.Error("init did not take the signal; rebooting directly", "err", err)
		} else {
			select {
			case <-ctx.Done():
				r.log.Info("init is stopping smsgate: reboot under way")
				return nil
			case <-time.After(r.grace):
			}
			r.log.Error("still running after asking init; rebooting directly", "grace", r.grace)
		}
	}
	if err := rebootNow(); err != nil {
		return fmt.Errorf("reboot(2): %w", err)
	}
	return nil
}

// detectInit picks how to reboot the running system from what PID 1 is.
func detectInit() (string, syscall.Signal) {
	_, err := os.Stat("/run/systemd/system")
	systemd := err == nil
	_, err = os.Stat("/gokrazy")
	gokrazy := err == nil
	exe, _ := os.Readlink("/proc/1/exe")
	return initReboot(os.Getpid(), exe, systemd, gokrazy)
}

// initReboot: gokrazy's and busybox's init reboot on SIGTERM, systemd on
// SIGINT; without a known init (or when smsgate is itself PID 1) only
// reboot(2) is left.
func initReboot(pid int, initExe string, systemd, gokrazy bool) (string, syscall.Signal) {
	switch {
	case pid == 1:
		return "syscall", 0
	case systemd:
		return "init", syscall.SIGINT
	case gokrazy, strings.Contains(initExe, "gokrazy"), strings.HasSuffix(initExe, "busybox"), strings.HasSuffix(initExe, "/init"):
		return "init", syscall.SIGTERM
	}
	return "syscall", 0
}
