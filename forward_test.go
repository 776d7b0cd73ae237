package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

const operator = "ORANGE"

// ownerHarness is a gateway with the owner's features, a state directory
// and the -alert number the owner's.
func ownerHarness(t *testing.T, oc OwnerConfig, mutate func(*GatewayConfig)) *harness {
	t.Helper()
	dir := t.TempDir()
	return newHarness(t, "mf920v", func(c *GatewayConfig) {
		c.StateDir = dir
		c.Owner = oc
		if mutate != nil {
			mutate(c)
		}
	})
}

// sentTo is the texts the sim sent to number.
func (h *harness) sentTo(number string) []string {
	var out []string
	for _, s := range h.sim.Record().Sent {
		if s.Number == number {
			out = append(out, s.Text)
		}
	}
	return out
}

func forwards(texts []string) []string {
	var out []string
	for _, s := range texts {
		if strings.Contains(s, forwardMarker) {
			out = append(out, s)
		}
	}
	return out
}

func TestForwardServiceOnceAcrossCopiesAndRestarts(t *testing.T) {
	h := ownerHarness(t, OwnerConfig{Forward: forwardService}, nil)
	at := h.clk.Now().Add(-time.Minute)
	h.sim.Deliver(operator, "You have used 90% of your data", at)
	h.sim.DeliverSIM(operator, "You have used 90% of your data", at) // the same message, in the SIM too
	h.sim.Deliver("+33612345678", "hello, is this Ali?", at)         // a person: not a service
	h.sim.Deliver("12345", "Your code is 555111", at)                // a short code
	h.step()
	h.step()
	got := forwards(h.sentTo(owner))
	if len(got) != 2 {
		t.Fatalf("forwards %q, want the operator's once and the short code's", got)
	}
	if !strings.HasPrefix(got[0], "smsgate fwd from ORANGE Mar 14 11:59: You have used 90%") {
		t.Errorf("forward %q: want who and when", got[0])
	}
	for _, s := range got {
		if smsParts(s) != 1 {
			t.Errorf("forward %q costs %d parts", s, smsParts(s))
		}
	}
	// A restart reads the same inbox: nothing is forwarded again, even with
	// the decided messages forgotten (a state file of an older smsgate).
	h.restart()
	h.gw.st.Decided = map[int64]string{}
	h.step()
	h.step()
	if again := forwards(h.sentTo(owner)); len(again) != 2 {
		t.Errorf("after a restart %d forwards, want still 2: %q", len(again), again)
	}
}

func TestForwardAllButNeverCommandsOwnerOrLoops(t *testing.T) {
	h := ownerHarness(t, OwnerConfig{Forward: forwardAll}, func(c *GatewayConfig) {
		c.PIN = "4711"
		c.AlertTo = []string{owner, "+21698765432"}
	})
	at := h.clk.Now()
	for _, m := range []struct{ from, text string }{
		{owner, "4711 ping"},                                           // a command
		{owner, "1234 reboot"},                                         // a wrong PIN
		{owner, "4711 what?"},                                          // an unknown command
		{owner, "just a note to myself"},                               // the owner's own, no command
		{"+21698765432", "from my 2nd phone"},                          // an -alert number: the owner's
		{"+33700000001", "smsgate fwd from BANK Mar 14 11:00: code 1"}, // another box's forward
		{"+33700000002", "unknown command; send 'help'"},               // another box's reply
		{"+33700000003", "(2 alerts suppressed) smsgate 12:00: up"},    // another box's alert
		{"+33700000004", "Hi, it is Sam"},                              // a stranger: forwarded
	} {
		h.sim.Deliver(m.from, m.text, at)
	}
	h.step()
	h.step()
	var got []string
	for _, n := range []string{owner, "+21698765432"} {
		got = append(got, forwards(h.sentTo(n))...)
	}
	if len(got) != 2 || !strings.Contains(got[0], "Hi, it is Sam") || !strings.Contains(got[1], "Hi, it is Sam") {
		t.Fatalf("forwards %q, want only the stranger's, to both -alert numbers", got)
	}
	for _, s := range h.sim.Record().Sent {
		if strings.Contains(s.Text, "4711") {
			t.Errorf("the PIN went out in %q", s.Text)
		}
	}
}

func TestForwardBoundedPerDay(t *testing.T) {
	h := ownerHarness(t, OwnerConfig{Forward: forwardService, ForwardMax: 3}, nil)
	for i := range 12 {
		h.sim.Deliver(fmt.Sprintf("BANK%d", i), fmt.Sprintf("notice %d", i), h.clk.Now())
		h.step()
	}
	if got := forwards(h.sentTo(owner)); len(got) != 3 {
		t.Fatalf("%d forwards in a day, want -forward-max 3: %q", len(got), got)
	}
	h.restart() // the count holds across a restart
	h.sim.Deliver("BANKX", "one more", h.clk.Now())
	h.step()
	if got := forwards(h.sentTo(owner)); len(got) != 3 {
		t.Fatalf("%d forwards after a restart, want 3", len(got))
	}
	h.clk.Advance(25 * time.Hour)
	h.sim.Deliver("BANKY", "a new day", h.clk.Now())
	h.step()
	h.step()
	got := forwards(h.sentTo(owner))
	if len(got) != 4 || !strings.HasPrefix(got[3], "(10 not forwarded: -forward-max) smsgate fwd from BANKY") {
		t.Fatalf("forwards %q: want the next one to say 10 were not forwarded", got)
	}
}

func TestForwardOffByDefault(t *testing.T) {
	h := ownerHarness(t, OwnerConfig{}, nil)
	h.sim.Deliver(operator, "credit low", h.clk.Now())
	h.step()
	h.step()
	if got := h.sentTo(owner); len(got) != 0 {
		t.Errorf("sent %q without -forward", got)
	}
}

func TestForwardFlushAtMostOnce(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f := newForwarder(forwardAll, 5, []string{owner}, log)
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	o := &ownerState{Forwarded: map[string]time.Time{}, ForwardQueue: []forwardItem{
		{FP: "a", Text: "interrupted", To: []string{owner}, Sending: true},
		{FP: "b", Text: "waiting", To: []string{owner}},
	}}
	var sent []string
	saves := 0
	// A modem rebooting does not answer the connection: no try.
	fail := error(&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")})
	send := func(_ context.Context, n, text string) error {
		if fail != nil {
			return fail
		}
		sent = append(sent, text)
		return nil
	}
	save := func() {
		saves++
		if !o.ForwardQueue[0].Sending {
			t.Error("saved without the item marked as being sent")
		}
	}
	f.flush(context.Background(), o, now, send, save)
	if len(sent) != 0 || len(o.ForwardQueue) != 1 || o.ForwardQueue[0].Sending {
		t.Fatalf("after a send not taken: sent %q, queue %+v", sent, o.ForwardQueue)
	}
	fail = nil
	f.flush(context.Background(), o, now, send, save)
	if len(sent) != 1 || sent[0] != "waiting" || len(o.ForwardQueue) != 0 || saves != 2 {
		t.Fatalf("sent %q (the interrupted one must not go), queue %+v, saves %d", sent, o.ForwardQueue, saves)
	}
	// Unconfirmed: taken by the modem; never sent twice.
	o.ForwardQueue = []forwardItem{{FP: "c", Text: "unconfirmed", To: []string{owner}}}
	n := 0
	f.flush(context.Background(), o, now, func(context.Context, string, string) error {
		n++
		return errSendUnconfirmed
	}, func() {})
	f.flush(context.Background(), o, now, func(context.Context, string, string) error { n++; return nil }, func() {})
	if n != 1 {
		t.Errorf("an unconfirmed forward was sent %d times", n)
	}
}

func TestIsServiceAndFromSmsgate(t *testing.T) {
	for _, c := range []struct {
		from string
		want bool
	}{{"ORANGE", true}, {"Vodafone.de", true}, {"12345", true}, {"123456", true}, {"1234567", false},
		{"+21612345678", false}, {"0612345678", false}, {"", false}, {"+", false}} {
		if got := isService(c.from); got != c.want {
			t.Errorf("isService(%q) = %v", c.from, got)
		}
	}
	for _, c := range []struct {
		text string
		want bool
	}{{"smsgate fwd from X", true}, {"SMSGATE 12:00: up", true}, {"unknown command; send 'help'", true},
		{"Wrong PIN (4 more and this number is ignored for 1h)", true}, {"your balance is 5", false}, {"pong", false}} {
		if got := fromSmsgate(c.text); got != c.want {
			t.Errorf("fromSmsgate(%q) = %v", c.text, got)
		}
	}
}

// FuzzForwardDecision: whatever a stranger sends, a forward is one SMS,
// starts with the marker, and is never forwarded again by another box.
func FuzzForwardDecision(f *testing.F) {
	f.Add("ORANGE", "Your data is used up", "26,03,14,12,00,00,+4")
	f.Add("+33612345678", "\x00\u202eevil\n", "")
	f.Fuzz(func(t *testing.T, from, text, date string) {
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		fw := newForwarder(forwardAll, 20, []string{owner}, log)
		o := &ownerState{Forwarded: map[string]time.Time{}}
		now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
		m := SMS{ID: 1, From: from, Text: text, RawDate: date}
		if !fw.consider(o, m, now) {
			return
		}
		if fw.consider(o, m, now) {
			t.Fatal("considered twice")
		}
		var sent string
		fw.flush(context.Background(), o, now, func(_ context.Context, _, s string) error { sent = s; return nil }, func() {})
		if len(o.ForwardQueue) == 0 && sent == "" {
			return
		}
		if smsParts(sent) != 1 || !fromSmsgate(sent) {
			t.Fatalf("forward %q: %d parts, or another box would forward it", sent, smsParts(sent))
		}
		if c, ok := parseCommand(sent); ok {
			t.Fatalf("forward %q parses as the command %s on another box", sent, c)
		}
	})
}

func TestForwardFlushIsBoundedPerPoll(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f := newForwarder(forwardAll, 20, []string{owner}, log)
	o := &ownerState{Forwarded: map[string]time.Time{}}
	for i := range 5 {
		o.ForwardQueue = append(o.ForwardQueue, forwardItem{FP: fmt.Sprint(i), Text: "x", To: []string{owner}})
	}
	n := 0
	send := func(context.Context, string, string) error { n++; return nil }
	f.flush(context.Background(), o, time.Now(), send, func() {})
	if n != forwardsPerFlush || len(o.ForwardQueue) != 5-forwardsPerFlush {
		t.Errorf("one flush sent %d, left %d", n, len(o.ForwardQueue))
	}
}

// Two boxes that forward to each other: a stranger's message crosses once
// and the exchange stops; nothing a forward carries runs on the other box.
func TestForwardNoPingPongBetweenTwoBoxes(t *testing.T) {
	const numA, numB = "+21699000001", "+21699000002"
	a := ownerHarness(t, OwnerConfig{Forward: forwardAll}, func(c *GatewayConfig) {
		c.Allow = []phoneKey{numB}
		c.AlertTo = []string{numB}
	})
	b := ownerHarness(t, OwnerConfig{Forward: forwardAll}, func(c *GatewayConfig) {
		c.Allow = []phoneKey{numA}
		c.AlertTo = []string{numA}
	})
	a.sim.Deliver("+33612345678", "reboot", a.clk.Now()) // a stranger's text that is a command on B
	total := 0
	for round := range 6 {
		from, to, toNum, fromNum := a, b, numB, numA
		if round%2 == 1 {
			from, to, toNum, fromNum = b, a, numA, numB
		}
		from.step()
		from.step()
		out := from.sentTo(toNum)
		from.sim.ResetRecord()
		total += len(out)
		for _, text := range out {
			to.sim.Deliver(fromNum, text, to.clk.Now())
		}
	}
	if total > 2 {
		t.Errorf("%d SMS between the boxes for one stranger's message; want the forward and at most one reply", total)
	}
	if a.reboots.count()+b.reboots.count() != 0 {
		t.Error("a forwarded text ran a command")
	}
}

func TestSmsgateReply(t *testing.T) {
	for text, want := range map[string]bool{
		"smsgate fwd from X": true, "(3 alerts suppressed) smsgate 12:00: up": true, "unknown command; send 'help'": true,
		"wrong PIN (4 more and this number is ignored for 1h)": true, "PIN first, e.g. 'PIN status'. smsgate: status": true,
		"4711 status": false, "status smsgate": false, "(hi) there": false, "ping": false,
	} {
		if got := smsgateReply(text); got != want {
			t.Errorf("smsgateReply(%q) = %v", text, got)
		}
	}
}

// TestRefusedForwardIsTriedThreeTimes: a modem that refuses every send
// ({"result":"failure"}) is asked for a forward alertTries times, with the
// alerts' back-off between tries (5, then 10 minutes), then the forward is
// dropped with one log line and the next one goes: not a SEND_SMS at every
// poll for ever. The tries outlive a restart (the queue is in the state).
func TestRefusedForwardIsTriedThreeTimes(t *testing.T) {
	h := ownerHarness(t, OwnerConfig{Forward: forwardService}, nil)
	h.sim.SetFaults(func(f *SimFaults) { f.FailActions = map[string]string{"SEND_SMS": "failure"} })
	t0 := h.clk.Now()
	h.sim.Deliver(operator, "You have used 90% of your data", t0.Add(-time.Minute))
	var tries []time.Duration
	sends := 0
	for i := 0; i < 120; i++ { // 2 hours of polls a minute apart
		if i == 7 {
			h.restart()
		}
		h.step()
		n := 0
		for _, p := range h.sim.Record().Posts {
			if p.GoformID == "SEND_SMS" {
				n++
			}
		}
		if n > sends {
			tries = append(tries, h.clk.Now().Sub(t0))
			sends = n
		}
		h.clk.Advance(time.Minute)
	}
	want := []time.Duration{0, alertBackoff, 3 * alertBackoff}
	if fmt.Sprint(tries) != fmt.Sprint(want) {
		t.Errorf("forward tried %d times, at %v..., want at %v", len(tries), tries[:min(len(tries), 5)], want)
	}
	if n := len(h.logLines("forward dropped: not sent")); n != 1 {
		t.Errorf("%d forward dropped lines, want 1", n)
	}
	if q := h.gw.st.Owner.ForwardQueue; len(q) != 0 {
		t.Errorf("%d forwards still queued", len(q))
	}
	// The modem sends again: the next forward goes at once.
	h.sim.SetFaults(func(f *SimFaults) { f.FailActions = nil })
	h.sim.Deliver("12345", "Your code is 555111", h.clk.Now())
	h.step()
	if got := forwards(h.sentTo(owner)); len(got) != 1 || !strings.Contains(got[0], "555111") {
		t.Errorf("forwards sent %q, want the next one", got)
	}
}

// TestDroppedForwardPassesItsNoteOn: the "(N not forwarded: -forward-max)"
// note a refused forward carried is said once, by the next forward that
// goes, not lost with it nor said twice on its own retries.
func TestDroppedForwardPassesItsNoteOn(t *testing.T) {
	f := newForwarder(forwardAll, 5, []string{owner}, slog.New(slog.DiscardHandler))
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	o := &ownerState{Forwarded: map[string]time.Time{}, ForwardSuppressed: 2, ForwardQueue: []forwardItem{
		{FP: "a", Text: "refused", To: []string{owner}},
		{FP: "b", Text: "next", To: []string{owner}},
	}}
	refused := fmt.Errorf("SEND_SMS: %w", errRefused)
	var sent, tried []string
	for i := 0; i < 30; i++ { // half an hour, a minute apart
		f.flush(context.Background(), o, now, func(_ context.Context, _, text string) error {
			tried = append(tried, text)
			if strings.HasSuffix(text, "refused") {
				o.ForwardSuppressed++ // one more over -forward-max meanwhile
				return refused
			}
			sent = append(sent, text)
			return nil
		}, func() {})
		now = now.Add(time.Minute)
	}
	want := []string{"(2 not forwarded: -forward-max) refused", "(2 not forwarded: -forward-max) refused",
		"(2 not forwarded: -forward-max) refused", "(5 not forwarded: -forward-max) next"}
	if fmt.Sprint(tried) != fmt.Sprint(want) {
		t.Errorf("tried %q, want %q", tried, want)
	}
	if len(sent) != 1 || o.ForwardSuppressed != 0 {
		t.Errorf("sent %q, %d still to say", sent, o.ForwardSuppressed)
	}
}

// TestForwardThatMayHaveGoneIsNotSentAgain: a forward whose send timed out
// once the modem had it, or that the modem took without reporting it sent,
// may have reached the owner: it is not sent again (at most once), while
// one the modem refused or that reached no modem waits for another try.
func TestForwardThatMayHaveGoneIsNotSentAgain(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for _, tc := range []struct {
		name   string
		err    error
		sends  int
		queued bool // still waiting for a send after the flushes
	}{
		{"timed out once connected", fmt.Errorf("send sms: %w", context.DeadlineExceeded), 1, false},
		{"taken, not confirmed", fmt.Errorf("send sms: %w", errSendUnconfirmed), 1, false},
		{"refused", fmt.Errorf("send sms: %w", errRefused), alertTries, false}, // then dropped, logged
		{"no modem", fmt.Errorf("send sms: %w", dial), 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newForwarder(forwardService, 0, []string{owner}, slog.New(slog.DiscardHandler))
			o := &ownerState{ForwardQueue: []forwardItem{{FP: "fp", Text: "from 12345: code 555111", To: []string{owner}}}}
			sends := 0
			send := func(context.Context, string, string) error { sends++; return tc.err }
			now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
			for i := 0; i < 3; i++ { // three flushes an hour apart: past every back-off
				f.flush(context.Background(), o, now.Add(time.Duration(i)*time.Hour), send, func() {})
			}
			if got := len(o.ForwardQueue) > 0; got != tc.queued || sends != tc.sends {
				t.Errorf("%d sends, queued %v; want %d, %v", sends, got, tc.sends, tc.queued)
			}
		})
	}
}
