package main

import (
	"context"
	"errors"
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
	if mode != "init" {
		sig = 0
	}
	return rebootSteps{log: r.log, sig: sig, grace: r.grace, signal: signalInit, now: rebootNow}.run(ctx)
}

// rebootSteps is the order of a reboot, with its two system calls given so
// that tests can take their place.
type rebootSteps struct {
	log    *slog.Logger
	sig    syscall.Signal // for init; 0: reboot(2) at once
	grace  time.Duration
	signal func(syscall.Signal) error // signals PID 1
	now    func() error               // reboot(2)
}

// run asks init (if sig is set) and falls back to reboot(2). Only a
// cancelled ctx means init is stopping smsgate: a ctx that ran out of time
// (a poll's deadline used up by earlier work) says nothing about init, so
// the fallback still runs after the grace.
func (s rebootSteps) run(ctx context.Context) error {
	if s.sig != 0 {
		s.log.Info("asking init to reboot", "pid", 1, "signal", s.sig.String())
		if err := s.signal(s.sig); err != nil {
			s.log.Error("init did not take the signal; rebooting directly", "err", err)
		} else {
			grace := time.NewTimer(s.grace)
			defer grace.Stop()
			select {
			case <-ctx.Done():
				if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
					s.log.Info("init is stopping smsgate: reboot under way")
					return nil
				}
				<-grace.C // out of time is not init's answer
			case <-grace.C:
			}
			s.log.Error("still running after asking init; rebooting directly", "grace", s.grace)
		}
	}
	if err := s.now(); err != nil {
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
