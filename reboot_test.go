package main

import (
	"context"
	"errors"
	"log/slog"
	"syscall"
	"testing"
	"time"
)

// A reboot asked of init falls back to reboot(2) unless smsgate is
// stopped meanwhile: a context that merely ran out of time (the poll's
// deadline) is not init's answer.
func TestRebootFallsBackUnlessStopped(t *testing.T) {
	expired, cancel1 := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel1()
	<-expired.Done()
	stopped, cancel2 := context.WithCancel(context.Background())
	cancel2()
	for _, c := range []struct {
		name      string
		ctx       context.Context
		signalErr error
		sig       syscall.Signal
		want      bool // reboot(2) called
	}{
		{"init stops smsgate", stopped, nil, syscall.SIGTERM, false},
		{"poll deadline used up", expired, nil, syscall.SIGTERM, true},
		{"init never answers", context.Background(), nil, syscall.SIGINT, true},
		{"init refuses the signal", stopped, errors.New("no"), syscall.SIGTERM, true},
		{"no init to ask", stopped, nil, 0, true},
	} {
		var signalled syscall.Signal
		rebooted := false
		s := rebootSteps{log: slog.New(slog.DiscardHandler), sig: c.sig, grace: 20 * time.Millisecond,
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
	}
}
