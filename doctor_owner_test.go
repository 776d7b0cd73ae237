package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDoctorChecksOnSMSAsCmd(t *testing.T) {
	sim := startDoctorSim(t, "mf920v", "s3cret")
	dir := t.TempDir()
	good := filepath.Join(dir, "hook")
	if err := os.WriteFile(good, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		onSMS, cmd string
		want       map[string]string // check -> level
	}{
		{good, "up=" + good, map[string]string{"on-sms": "ok", "cmd": "ok", "features": "ok"}},
		{"hook", "", map[string]string{"on-sms": "FAIL"}},
		{filepath.Join(dir, "missing"), "x=/nonexistent", map[string]string{"on-sms": "FAIL", "cmd": "FAIL"}},
	} {
		d, out := doctorFor(t, sim.URL, "s3cret")
		d.cfg.owner = doctorOwnerFlags{onSMS: c.onSMS, cmdTimeout: time.Second}
		if c.cmd != "" {
			d.cfg.owner.programs = repeatFlag{c.cmd}
		}
		err := d.run(context.Background())
		failed := false
		for name, level := range c.want {
			failed = failed || level == "FAIL"
			if l := line(out.String(), name); !strings.HasPrefix(l, level) {
				t.Errorf("%+v: %s line %q, want %s", c, name, l, level)
			}
		}
		if failed != (err != nil) {
			t.Errorf("%+v: doctor returned %v", c, err)
		}
		if l := line(out.String(), "features"); failed == false && !strings.Contains(l, "ussd") {
			t.Errorf("features line %q", l)
		}
	}
}
