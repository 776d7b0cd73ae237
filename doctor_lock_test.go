package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestDoctorSaysTheClientsLockPeriod: doctor names the lock period the
// client itself holds logins for (loginLockPeriod), also when the modem
// says none or nonsense.
func TestDoctorSaysTheClientsLockPeriod(t *testing.T) {
	for _, tt := range []struct {
		lock time.Duration
		want string
	}{
		{0, "locks the login for 300 s after 5 wrong ones"}, // "0": not a period; the client holds 300 s
		{120 * time.Second, "locks the login for 120 s after 5 wrong ones"},
	} {
		sim := startDoctorSim(t, "mf920v", "s3cret")
		sim.mu.Lock()
		sim.LockTime = tt.lock
		sim.failLeft = 4
		sim.mu.Unlock()
		d, out := doctorFor(t, sim.URL, "s3cret")
		d.run(context.Background())
		if l := line(out.String(), "attempts"); !strings.Contains(l, tt.want) {
			t.Errorf("lock %s: attempts line %q, want %q", tt.lock, l, tt.want)
		}
	}
}

func TestLoginLockPeriod(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
	}{{"", defaultLockPeriod}, {"0", defaultLockPeriod}, {"-5", defaultLockPeriod}, {"abc", defaultLockPeriod}, {"60", time.Minute}} {
		if got := loginLockPeriod(map[string]string{"login_lock_time": tt.in}); got != tt.want {
			t.Errorf("loginLockPeriod(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
