package main

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestOpenWatchdogErrors(t *testing.T) {
	if _, err := OpenWatchdog(filepath.Join(t.TempDir(), "watchdog")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing device: %v", err)
	}
	// A file that is not a watchdog: opening works, the ioctls fail.
	f := filepath.Join(t.TempDir(), "notawatchdog")
	os.WriteFile(f, nil, 0o644)
	w, err := OpenWatchdog(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.SetTimeout(15 * time.Second); err == nil {
		t.Error("SetTimeout on a plain file succeeded")
	}
	if err := w.Ping(); err == nil {
		t.Error("Ping on a plain file succeeded")
	}
	w.LeaveArmed()
	log := slog.New(slog.DiscardHandler)
	if wd, _ := openSupervisedWatchdog(f, 15*time.Second, log); wd != nil {
		t.Error("a plain file was taken for a watchdog")
	}
	if wd, _ := openSupervisedWatchdog("", 15*time.Second, log); wd != nil {
		t.Error("empty -watchdog opened something")
	}
}
