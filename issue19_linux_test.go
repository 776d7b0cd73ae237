package main

import (
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
