package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// doctorOrder is doctor's output reduced to its headings and the names of
// its checks, in print order.
func doctorOrder(out string) []string {
	var order []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		switch {
		case strings.HasPrefix(l, "smsgate doctor: "):
			order = append(order, strings.TrimPrefix(strings.SplitN(l, " http", 2)[0], "smsgate doctor: "))
		case len(f) >= 2 && f[1] != "fix:" && (f[0] == "ok" || f[0] == "warn" || f[0] == "FAIL" || f[0] == "--"):
			order = append(order, f[1])
		}
	}
	return order
}

// TestDoctorPrintsItsChecksInOrder pins the order of doctor's checks (the
// tables in doctor.go), with a session and without one (the session
// checks are then printed skipped, and the test SMS not at all).
func TestDoctorPrintsItsChecksInOrder(t *testing.T) {
	for _, tc := range []struct {
		name, password string
		inbox          string // the inbox line's level
		want           string
	}{
		{"session", "s3cret", "ok", "modem allow features modem attempts login firmware scheme counters family inbox capacity data signal send generation ad this machine led ir watchdog clock"},
		{"wrong password", "wrong", "--", "modem allow features modem attempts login firmware scheme counters family inbox capacity data signal generation ad this machine led ir watchdog clock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim := startDoctorSim(t, "mc801a", "s3cret")
			d, out := doctorFor(t, sim.URL, tc.password)
			d.cfg.sendTest = "+21699887766"
			d.statusEvery = 10 * time.Millisecond
			_ = d.run(context.Background()) // the wrong password fails; the order is what counts
			if got := strings.Join(doctorOrder(out.String()), " "); got != tc.want {
				t.Errorf("order\n got %s\nwant %s\n%s", got, tc.want, out)
			}
			if l := line(out.String(), "inbox"); !strings.HasPrefix(l, tc.inbox+" ") {
				t.Errorf("inbox line %q, want level %s", l, tc.inbox)
			}
		})
	}
}
