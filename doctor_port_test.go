package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// plainPort is a family with no doctor checks of its own: only the port
// and a login.
type plainPort struct {
	modemPort
	sessionOpener
}

// TestDoctorPlainFamily: a family without portDoctor still gets a login
// (one), the session checks and the family line, through the port alone.
func TestDoctorPlainFamily(t *testing.T) {
	for _, tc := range []struct {
		password string
		ok       bool
	}{{"s3cret", true}, {"wrong", false}} {
		t.Run(tc.password, func(t *testing.T) {
			sim := startDoctorSim(t, "mf920v", "s3cret")
			sim.Deliver(owner, "status", time.Now())
			m, err := NewModem(ModemConfig{URL: sim.URL, Password: tc.password, Timeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			d, out := doctorFor(t, sim.URL, tc.password)
			p := plainPort{m, m}
			ctx := context.Background()
			if got := d.checkLoginPlain(ctx, p); got != tc.ok {
				t.Fatalf("session %v\n%s", got, out)
			}
			if n := len(sim.Record().Logins); n != 1 {
				t.Errorf("%d logins, want 1", n)
			}
			if !tc.ok {
				if l := line(out.String(), "login"); !strings.HasPrefix(l, "FAIL") {
					t.Errorf("login line %q", l)
				}
				return
			}
			d.checkSession(ctx, p)
			for _, name := range []string{"login", "inbox", "capacity", "data", "signal"} {
				if l := line(out.String(), name); !strings.HasPrefix(l, "ok") {
					t.Errorf("%s: %q\n%s", name, l, out)
				}
			}
			if !strings.Contains(describePort(p.Info()), "zte (goform), model") {
				t.Errorf("family line %q", describePort(p.Info()))
			}
			if got := describePort(limitedPort{m}.Info()); !strings.Contains(got, "cannot reconnect, reboot") {
				t.Errorf("a limited family's line %q", got)
			}
		})
	}
}
