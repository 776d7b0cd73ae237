package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// hilinkUSSD starts the e3372h simulator (strict, type-4 login) with the
// network's answers, and its adapter.
func hilinkUSSD(t *testing.T, answers map[string]HiLinkUSSDAnswer) (*HiLinkSim, *hilinkModem, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	fs, p := startHiLinkFamily(t, clk)
	sim := fs.(hilinkFamily).sim
	sim.SetUSSD(answers)
	return sim, p.(*hilinkModem), clk
}

// TestHiLinkUSSDAgainstSim runs each case in a synctest bubble over the
// in-memory network: the real 30 s wait and the client's default 1 s
// reads, timed exactly.
func TestHiLinkUSSDAgainstSim(t *testing.T) {
	allow, _ := parseUSSDCharset(defaultUSSDCharset)
	cases := []struct {
		name, code, want, wantErr string
		answer                    *HiLinkUSSDAnswer
		sent                      int
	}{
		{name: "answer after pending reads", code: "*100#", answer: &HiLinkUSSDAnswer{Text: "Balance 12.50 TND", PendingReads: 3}, want: "Balance 12.50 TND", sent: 1},
		{name: "menu closed", code: "*111#", answer: &HiLinkUSSDAnswer{Text: "1. Packs\n2. Balance", Menu: true}, want: "1. Packs 2. Balance", sent: 1},
		{name: "no answer", code: "*123#", wantErr: "no answer in 30s", sent: 1},
		{name: "network does not support", code: "*124#", answer: &HiLinkUSSDAnswer{Code: 111022}, wantErr: "not supported", sent: 1},
		{name: "refused code", code: "*100#;reboot", wantErr: "refused", sent: 0},
		{name: "too long", code: "*12345678901234567890#", wantErr: "refused", sent: 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				answers := map[string]HiLinkUSSDAnswer{}
				if c.answer != nil {
					answers[c.code] = *c.answer
				}
				sim, m := startHiLinkPiped(t, "e3372h", "pw")
				sim.SetUSSD(answers)
				if ussdOf(m) == nil {
					t.Fatal("the HiLink adapter does not offer USSD")
				}
				start := time.Now()
				got, err := runUSSD(context.Background(), m, allow, c.code)
				took := time.Since(start)
				if c.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), c.wantErr) {
						t.Errorf("err %v, want %q", err, c.wantErr)
					}
				} else if err != nil || got != c.want {
					t.Errorf("got %q, %v; want %q", got, err, c.want)
				}
				if took > ussdWait+2*time.Second || (c.name == "no answer") != (took >= ussdWait) {
					t.Errorf("took %v with a %v wait", took, ussdWait)
				}
				sent, releases, open := sim.USSDRecord()
				if len(sent) != c.sent || open {
					t.Errorf("sent %q, open %v: want %d sends and no session left open", sent, open, c.sent)
				}
				if c.sent > 0 && releases != 1 {
					t.Errorf("%d releases after a send, want 1", releases)
				}
			})
		})
	}
}

// A second code after a menu works: the first session was released (the
// simulator refuses a send while one is open).
func TestHiLinkUSSDMenuThenAnother(t *testing.T) {
	_, m, _ := hilinkUSSD(t, map[string]HiLinkUSSDAnswer{"*111#": {Text: "1. Packs", Menu: true}, "*100#": {Text: "Balance 1 TND"}})
	for _, code := range []string{"*111#", "*100#"} {
		if _, err := m.USSD(context.Background(), code); err != nil {
			t.Fatalf("%s: %v", code, err)
		}
	}
}

// The HiLink gateway: `ussd *100#` from the owner gets the answer by SMS;
// -balance-ussd adds it to the keep-alive.
//
// In a synctest bubble over the in-memory network, on one clock
// (newBubbleClock): the real 30 s wait, and 31 days for the keep-alive.
func TestHiLinkUSSDCommandThroughTheGateway(t *testing.T) {
	synctest.Test(t, testHiLinkUSSDCommandThroughTheGateway)
}

func testHiLinkUSSDCommandThroughTheGateway(t *testing.T) {
	allow, _ := parseUSSDCharset(defaultUSSDCharset)
	clk := newBubbleClock()
	sim, m := startHiLinkPiped(t, "e3372h", "pw")
	sim.now, m.now = clk.Now, clk.Now
	sim.SetUSSD(map[string]HiLinkUSSDAnswer{"*100#": {Text: "Balance 12.50 TND", PendingReads: 2}, "*111#": {Text: "1. Packs", Menu: true}})
	cfg := daemonGatewayConfig(t)
	cfg.StateDir, cfg.Owner = t.TempDir(), OwnerConfig{USSDAllow: allow, Keepalive: 30 * 24 * time.Hour, BalanceUSSD: "*100#"}
	log := slog.New(slog.NewTextHandler(&lockedBuffer{}, nil))
	actions := &Actions{modem: m, reboot: &countingRebooter{}, ir: &recordingIR{}, host: fakeHost{uptime: 3 * time.Hour}, log: log}
	gw, err := NewGateway(cfg, m, actions, &recordingLED{}, log)
	if err != nil {
		t.Fatal(err)
	}
	gw.now = clk.Now
	for _, text := range []string{"ussd *100#", "ussd *111#", "ussd *123#", "ussd *100#;reboot"} {
		sim.Deliver(owner, text, clk.Now())
		gw.Step(context.Background())
	}
	var r []string
	for _, s := range sim.Sent() {
		if s.To == owner {
			r = append(r, s.Text)
		}
	}
	want := []string{"ussd *100#: Balance 12.50 TND", "ussd *111#: 1. Packs", "ussd *123#: no answer in 30s", "ussd *100#;reboot: refused"}
	if len(r) != len(want) {
		t.Fatalf("replies %q", r)
	}
	for i, w := range want {
		if !strings.HasPrefix(r[i], w) {
			t.Errorf("reply %q, want %q", r[i], w)
		}
	}
	sent, releases, open := sim.USSDRecord()
	if strings.Join(sent, " ") != "*100# *111# *123#" || releases != 3 || open {
		t.Errorf("the modem was sent %q (%d releases, open %v)", sent, releases, open)
	}
	if !strings.Contains(actions.help(), "ussd CODE") {
		t.Error("help does not offer ussd on HiLink")
	}
	clk.Advance(31 * 24 * time.Hour)
	gw.Step(context.Background())
	var ka []string
	for _, s := range sim.Sent() {
		if s.To == owner && strings.Contains(s.Text, "*100#: Balance 12.50 TND") && !strings.HasPrefix(s.Text, "ussd ") {
			ka = append(ka, s.Text)
		}
	}
	if len(ka) != 1 {
		t.Errorf("keep-alive with the HiLink balance: %q", ka)
	}
}

func TestHiLinkUSSDSendRefusedLeavesNothingOpen(t *testing.T) {
	sim, m, _ := hilinkUSSD(t, nil)
	sim.Configure(func(s *HiLinkSim) { s.ussd.open = true }) // the channel is busy: send answers 111019
	_, err := m.USSD(context.Background(), "*100#")
	if err == nil || errors.Is(err, errUSSDNoAnswer) {
		t.Errorf("a refused send: %v", err)
	}
	if sent, releases, _ := sim.USSDRecord(); len(sent) != 0 || releases != 0 {
		t.Errorf("a refused send recorded %q, %d releases", sent, releases)
	}
}
