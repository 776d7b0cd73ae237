package main

import (
	"context"
	"errors"
	"log/slog"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// A reboot asked of init falls back to reboot(2) unless smsgate is
// stopped meanwhile: a context that merely ran out of time (the poll's
// deadline) is not init's answer. In a synctest bubble the grace is the
// real one and the wait is measured exactly.
func TestRebootFallsBackUnlessStopped(t *testing.T) {
	const grace = 30 * time.Second
	synctest.Test(t, func(t *testing.T) {
		expired, cancel1 := context.WithTimeout(t.Context(), time.Nanosecond)
		defer cancel1()
		<-expired.Done()
		stopped, cancel2 := context.WithCancel(t.Context())
		cancel2()
		for _, c := range []struct {
			name      string
			ctx       context.Context
			signalErr error
			sig       syscall.Signal
			want      bool          // reboot(2) called
			wait      time.Duration // before reboot(2) or giving up
		}{
			{"init stops smsgate", stopped, nil, syscall.SIGTERM, false, 0},
			{"poll deadline used up", expired, nil, syscall.SIGTERM, true, grace},
			{"init never answers", t.Context(), nil, syscall.SIGINT, true, grace},
			{"init refuses the signal", stopped, errors.New("no"), syscall.SIGTERM, true, 0},
			{"no init to ask", stopped, nil, 0, true, 0},
		} {
			var signalled syscall.Signal
			rebooted := false
			start := time.Now()
			s := rebootSteps{log: slog.New(slog.DiscardHandler), sig: c.sig, grace: grace,
				signal: func(sig syscall.Signal) error { signalled = sig; return c.signalErr },
				now:    func() error { rebooted = true; return nil }}
			if err := s.run(c.ctx); err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			if rebooted != c.want {
				t.Errorf("%s: reboot(2) called %v, want %v", c.name, rebooted, c.want)
			}
			if signalled != c.sig {
				t.Errorf("%s: signalled %v, want %v", c.name, signalled, c.sig)
			}
			if took := time.Since(start); took != c.wait {
				t.Errorf("%s: took %s, want %s", c.name, took, c.wait)
			}
		}
	})
}
