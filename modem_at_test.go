//go:build linux && !nosim

package main

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

// atPair is a simulated module and the adapter on its pseudo-terminal.
func atPair(t *testing.T, personality string) (*ATSim, *atModem) {
	t.Helper()
	sim, err := startATSim(personality)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	m, err := newATModem(ATConfig{Device: sim.DevicePath(), Timeout: time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return sim, m
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var atPersonalities = []string{"sim7600", "ec25", "sim800"}

func TestATInboxDecodesWhatTheSimulatorDelivered(t *testing.T) {
	at := time.Date(2026, 12, 4, 17, 0, 5, 0, time.FixedZone("", 3600))
	long := strings.Repeat("long message, part after part. ", 12) // 372 chars: 3 parts
	cases := []struct{ from, text string }{
		{"+4915112345678", "4711 status"},
		{"+4915112345678", "ümlaut €uro [x] {y} ~ ^ | \\"},
		{"+4915112345678", "日本語 and emoji 😀"},
		{"0612345678", long},
		{"+33612345678", strings.Repeat("😀 unicode long ", 10)},
		{"Orange", "alphanumeric sender"},
	}
	for _, p := range atPersonalities {
		t.Run(p, func(t *testing.T) {
			sim, m := atPair(t, p)
			ctx := ctxT(t)
			if _, err := m.Poll(ctx); err != nil {
				t.Fatal(err)
			}
			for _, c := range cases {
				sim.Deliver(c.from, c.text, at)
			}
			msgs, err := m.Inbox(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != len(cases) {
				t.Fatalf("listed %d messages, want %d: %+v", len(msgs), len(cases), msgs)
			}
			for _, c := range cases {
				i := slices.IndexFunc(msgs, func(s SMS) bool { return s.Text == c.text })
				if i < 0 {
					t.Errorf("%q not listed; got %+v", c.text, msgs)
					continue
				}
				s := msgs[i]
				if s.From != c.from || !s.Complete || !s.Time.Equal(at) || s.Problem != "" {
					t.Errorf("%q: got from %q complete %v time %v problem %q", c.text, s.From, s.Complete, s.Time, s.Problem)
				}
			}
		})
	}
}
