package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func keepalives(texts []string) []string {
	var out []string
	for _, s := range texts {
		if strings.HasPrefix(s, "smsgate keep-alive") {
			out = append(out, s)
		}
	}
	return out
}

func TestKeepaliveAfterSilenceOnceAcrossRestarts(t *testing.T) {
	allow, _ := parseUSSDCharset(defaultUSSDCharset)
	h := ownerHarness(t, OwnerConfig{Keepalive: 30 * 24 * time.Hour, BalanceUSSD: "*100#", USSDAllow: allow}, nil)
	h.sim.SetOwner(func(o *simOwnerExt) {
		o.USSD = map[string]SimUSSDAnswer{"*100#": {Text: "Balance 3.20 TND, valid until 2026-05-01"}}
	})
	h.step()
	if got := h.sentTo(owner); len(got) != 0 {
		t.Fatalf("sent at start: %q", got)
	}
	h.clk.Advance(20 * 24 * time.Hour)
	h.sim.Deliver(owner, "ping", h.clk.Now()) // a reply is an outgoing SMS: counting starts again
	h.step()
	h.clk.Advance(time.Minute) // written within a minute (stateLazy)
	h.step()
	h.clk.Advance(29 * 24 * time.Hour)
	h.restart()
	h.step()
	if got := keepalives(h.sentTo(owner)); len(got) != 0 {
		t.Fatalf("keep-alive 29 days after the last reply: %q", got)
	}
	h.clk.Advance(2 * 24 * time.Hour)
	for range 3 {
		h.step()
	}
	got := keepalives(h.sentTo(owner))
	if len(got) != 1 || !strings.Contains(got[0], "*100#: Balance 3.20 TND") || smsParts(got[0]) != 1 {
		t.Fatalf("keep-alives %q: want one, with the balance, in one SMS", got)
	}
	h.restart()
	h.clk.Advance(24 * time.Hour)
	h.step()
	if got := keepalives(h.sentTo(owner)); len(got) != 1 {
		t.Errorf("%d keep-alives a day after one, across a restart", len(got))
	}
}

// A SIM out of credit: every send fails. The keep-alive is tried once an
// hour, not every poll.
func TestKeepaliveBoundedWhenSendsFail(t *testing.T) {
	h := ownerHarness(t, OwnerConfig{Keepalive: 24 * time.Hour}, nil)
	h.step()
	h.sim.SetFaults(func(f *SimFaults) { f.SendFails = true })
	h.clk.Advance(25 * time.Hour)
	for range 6 * 60 { // six hours of polls, a minute apart
		h.step()
		h.clk.Advance(time.Minute)
	}
	if n := len(keepalives(h.sentTo(owner))); n < 5 || n > 7 {
		t.Errorf("%d keep-alive sends in six hours of failures; want one an hour", n)
	}
}

func TestKeepaliveFlagRefusesLessThanADay(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-keepalive", "12h"}, "-keepalive 12h0m0s: want at least 1d"},
		{[]string{"-keepalive", "0.5d"}, "-keepalive"},
		{[]string{"-balance-ussd", "*100#"}, "-balance-ussd goes with -keepalive"},
		{[]string{"-keepalive", "30d", "-balance-ussd", "*100#;x"}, "-balance-ussd"},
		{[]string{"-reply-parts", "5"}, "-reply-parts 5: want 1 to 4"},
		{[]string{"-forward", "everything"}, "-forward \"everything\""},
		{[]string{"-forward-max", "0"}, "-forward-max 0"},
		{[]string{"-on-sms", "notify"}, "-on-sms"},
		{[]string{"-ussd-allow", "9-0"}, "-ussd-allow"},
		{[]string{"-forward", "all", "-alert", ""}, "-forward needs an -alert number"},
	} {
		var out bytes.Buffer
		a := &app{stdout: &out, stderr: &out}
		err := a.run(append([]string{"run", "-allow", owner, "-watchdog", ""}, c.args...))
		if exitCode(err) != exitStatusConfig || !strings.Contains(err.Error()+out.String(), c.want) {
			t.Errorf("%q: exit %d, %v; want 125 and %q", c.args, exitCode(err), err, c.want)
		}
	}
	var f dayDuration
	for s, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "36h": 36 * time.Hour, "1d": 24 * time.Hour} {
		if err := f.Set(s); err != nil || f.d != want {
			t.Errorf("%s: %v %v", s, f.d, err)
		}
	}
}
