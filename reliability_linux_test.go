package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStateFileNotRegularIsRefused: a FIFO (or a directory) named like the
// state file is refused with one clear line and smsgate serves from
// memory; it must not hang at start.
func TestStateFileNotRegularIsRefused(t *testing.T) {
	for _, kind := range []string{"fifo", "dir"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, stateFile)
			var err error
			if kind == "fifo" {
				err = syscall.Mkfifo(path, 0o600)
			} else {
				err = os.Mkdir(path, 0o700)
			}
			if err != nil {
				t.Skip("cannot make a", kind, err)
			}
			done := make(chan *harness, 1)
			go func() {
				done <- newHarness(t, "mf920v", func(g *GatewayConfig) { g.StateDir = dir })
			}()
			var h *harness
			select {
			case h = <-done:
			case <-time.After(5 * time.Second):
				// Unblock the open so the test can end.
				if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					f.Close()
				}
				t.Fatal("a FIFO named like the state file hangs the start")
			}
			if n := strings.Count(h.logs.String(), "not a regular file"); n != 1 {
				t.Errorf("%d lines say the state file is not a regular file, want 1:\n%s", n, h.logs.String())
			}
			id := h.send(owner, "ping")
			h.step()
			if d := h.decision(id); d != "executed" {
				t.Errorf("not served from memory: %s", d)
			}
			fi, err := os.Lstat(path)
			if err != nil || fi.Mode().IsRegular() {
				t.Errorf("the %s was replaced: %v %v", kind, fi, err)
			}
		})
	}
}

// TestStateDirLockUnavailableIsNotFatal: when the lock file cannot be made
// (a read-only or broken state directory) the daemon says so loudly and
// runs, as it does when the state file cannot be written; a FIFO named like
// the lock file does not hang it.
func TestStateDirLockUnavailableIsNotFatal(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	fifoDir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(fifoDir, lockFile), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{filepath.Join(file, "sub"), fifoDir} {
		var logs lockedBuffer
		done := make(chan error, 1)
		go func() {
			l, err := holdStateDir(dir, slog.New(slog.NewTextHandler(&logs, nil)))
			l.Release()
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil || !strings.Contains(logs.String(), "WITHOUT protection") {
				t.Errorf("%s: err %v, log %q", dir, err, logs.String())
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: hangs", dir)
		}
	}
	// Held twice in one process: flock locks are per open file, so the
	// second is refused.
	dir := t.TempDir()
	l, err := holdStateDir(dir, slog.New(slog.NewTextHandler(&lockedBuffer{}, nil)))
	if err != nil || l == nil {
		t.Fatal(err)
	}
	defer l.Release()
	if _, err := holdStateDir(dir, slog.New(slog.NewTextHandler(&lockedBuffer{}, nil))); !errors.Is(err, errStateDirHeld) ||
		!strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("second hold: %v", err)
	}
}

// TestNoRebootRunsProgramsButNeverReboots: -no-reboot lets an outside
// tester run -cmd programs for real on a machine that must not reboot: the
// Pi reboot (by command) is logged, not done, and the watchdog (which could
// reset the machine) is not opened.
func TestNoRebootRunsProgramsButNeverReboots(t *testing.T) {
	sim, _, _ := startSim(t, "mf920v", "pw", "pw")
	mark := filepath.Join(t.TempDir(), "ran")
	wd := filepath.Join(t.TempDir(), "watchdog")
	os.WriteFile(wd, nil, 0o600)
	reboots := &countingRebooter{}
	var out lockedBuffer
	a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &out,
		newRebooter: func(rebootConfig, *slog.Logger) rebooter { return reboots }}
	cfg, err := parseDaemonFlags([]string{"-modem", sim.URL, "-allow", owner, "-no-reboot", "-poll", "50ms",
		"-watchdog", wd, "-reboot-interval", "1s", "-cmd", "mark=/usr/bin/touch " + mark, "-log-format", "json"},
		func(k string) string { return map[string]string{"SMSGATE_PASSWORD": "pw"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	log, _ := newLogger(&out, "json", slog.LevelInfo)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.serve(ctx, cfg, log) }()
	defer func() { cancel(); <-done }()
	sim.Deliver(owner, "mark", time.Now())
	sim.Deliver(owner, "reboot", time.Now())
	end := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), `"action":"reboot"`) || !fileExists(mark) {
		if time.Now().After(end) {
			t.Fatalf("the program did not run or the reboot was not logged:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if reboots.count() != 0 {
		t.Errorf("-no-reboot rebooted %d times", reboots.count())
	}
	if !strings.Contains(out.String(), `"action":"watchdog","detail":"not opened"`) {
		t.Errorf("-no-reboot opened the watchdog:\n%s", out.String())
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
