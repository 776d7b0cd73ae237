package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestZTEUSSDAgainstSim runs in synctest bubbles over the in-memory
// network, with the real 30 s wait and the client's default status reads.
func TestZTEUSSDAgainstSim(t *testing.T) {
	for _, c := range []struct {
		name    string
		answer  *SimUSSDAnswer // nil: the network never answers
		want    string
		err     error
		cancels int
	}{
		{"balance", &SimUSSDAnswer{Text: "Balance 12.50 TND"}, "Balance 12.50 TND", nil, 0},
		{"unicode", &SimUSSDAnswer{Text: "Баланс: 5 руб."}, "Баланс: 5 руб.", nil, 0},
		{"menu closed", &SimUSSDAnswer{Text: "1 Data packs\n2 Balance", Menu: true}, "1 Data packs\n2 Balance", nil, 1},
		{"no answer", nil, "", errUSSDNoAnswer, 1},
		{"unsupported", &SimUSSDAnswer{Flag: "99"}, "", errUnsupported, 0},
		{"no service", &SimUSSDAnswer{Flag: "1"}, "", nil, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, p := range []string{"mf920v", "mc801a"} {
				synctest.Test(t, func(t *testing.T) {
					sim, m := startSimPiped(t, p, "pw")
					sim.SetOwner(func(o *simOwnerExt) {
						o.PendingReads = 2
						if c.answer != nil {
							o.USSD = map[string]SimUSSDAnswer{"*100#": *c.answer}
						}
					})
					ctx, cancel := context.WithTimeout(t.Context(), ussdWait) // the real wait: bubble time is free
					start := time.Now()
					got, err := m.USSD(ctx, "*100#")
					took := time.Since(start)
					cancel()
					if (c.answer == nil) != (took >= ussdWait) {
						t.Errorf("%s: took %s of a %s wait", p, took, ussdWait)
					}
					switch {
					case c.err != nil && !errors.Is(err, c.err):
						t.Errorf("%s: %q, %v; want %v", p, got, err, c.err)
					case c.err == nil && c.want != "" && (err != nil || got != c.want):
						t.Errorf("%s: %q, %v; want %q", p, got, err, c.want)
					case c.want == "" && c.err == nil && err == nil:
						t.Errorf("%s: %q, no error", p, got)
					}
					sent, cancels, open := sim.USSDRecord()
					if len(sent) != 1 || sent[0] != "*100#" || cancels != c.cancels || open {
						t.Errorf("%s: sim saw %q, %d cancels, session open %v; want 1 code, %d cancels, closed", p, sent, cancels, open, c.cancels)
					}
				})
			}
		})
	}
}

// TestUSSDCommandThroughTheGateway runs in a synctest bubble over the
// in-memory network: the real 30 s wait for the code nobody answers, and
// the client's default waits, on one clock.
func TestUSSDCommandThroughTheGateway(t *testing.T) {
	synctest.Test(t, testUSSDCommandThroughTheGateway)
}

func testUSSDCommandThroughTheGateway(t *testing.T) {
	allow, _ := parseUSSDCharset(defaultUSSDCharset)
	dir := t.TempDir()
	h := newPipedHarness(t, "mf920v", func(c *GatewayConfig) {
		c.StateDir, c.Owner = dir, OwnerConfig{USSDAllow: allow, ReplyParts: 2}
	})
	long := strings.Repeat("Your packs: 1GB 5 TND, 5GB 15 TND. ", 8)
	h.sim.SetOwner(func(o *simOwnerExt) {
		o.USSD = map[string]SimUSSDAnswer{"*100#": {Text: "Balance 12.50 TND"}, "*111#": {Text: long, Menu: true}}
	})
	for _, text := range []string{"ussd *100#", "ussd *111#", "ussd *123#", "ussd *100#;reboot", "ussd *12345678901234567890#"} {
		h.sim.Deliver(owner, text, h.clk.Now())
		h.step()
	}
	r := h.sentTo(owner)
	want := []string{"ussd *100#: Balance 12.50 TND", "ussd *111#: Your packs", "ussd *123#: no answer in 30s",
		"ussd *100#;reboot: refused: ';' is not in -ussd-allow", "ussd *12345678901234567890#: refused: a code of 1 to 20"}
	if len(r) != len(want) {
		t.Fatalf("replies %q", r)
	}
	for i, w := range want {
		if !strings.HasPrefix(r[i], w) {
			t.Errorf("reply %q, want %q", r[i], w)
		}
	}
	if p := smsParts(r[1]); p != 2 {
		t.Errorf("a long USSD answer took %d parts with -reply-parts 2", p)
	}
	sent, cancels, open := h.sim.USSDRecord()
	if strings.Join(sent, " ") != "*100# *111# *123#" || cancels != 2 || open {
		t.Errorf("the modem was sent %q (%d cancels, open %v): refused codes must not reach it, sessions must close", sent, cancels, open)
	}
	if !strings.Contains(h.gw.actions.help(), "ussd CODE") {
		t.Error("help does not offer ussd on a modem that can")
	}
}

func TestUSSDUnsupportedPort(t *testing.T) {
	allow, _ := parseUSSDCharset(defaultUSSDCharset)
	_, err := runUSSD(context.Background(), struct{}{}, allow, "*100#")
	if !errors.Is(err, errUnsupported) {
		t.Errorf("a port without USSD: %v", err)
	}
	if (&Actions{}).help() != "smsgate: status | ping | reboot | modem reboot | modem reconnect | ussd (not on this modem) | pause 30m | resume | help" {
		t.Errorf("help on a modem without USSD: %q", (&Actions{}).help())
	}
}

func TestUSSDCharset(t *testing.T) {
	for _, c := range []struct {
		spec, code string
		ok         bool
	}{
		{"*#0-9", "*100#", true}, {"*#0-9", "*100*1#", true}, {"*#0-9", "*100#a", false}, {"*#0-9", "", false},
		{"*#0-9", "#" + strings.Repeat("1", 19), true}, {"*#0-9", "#" + strings.Repeat("1", 20), false},
		{"*#0-9a-c", "*1a#", true}, {"*#0-9", "*1\x00#", false}, {"*#0-9", "*1٣#", false},
	} {
		cs, err := parseUSSDCharset(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		if err := cs.check(c.code); (err == nil) != c.ok {
			t.Errorf("%q in %q: %v", c.code, c.spec, err)
		}
	}
	for _, bad := range []string{"", "9-0", "a b", "é"} {
		if _, err := parseUSSDCharset(bad); err == nil {
			t.Errorf("-ussd-allow %q accepted", bad)
		}
	}
}

// FuzzUSSDCode: a code that passes the default -ussd-allow is at most 20
// characters of *, # and digits, whatever the SMS held.
func FuzzUSSDCode(f *testing.F) {
	f.Add("*100#")
	f.Add("*100#;reboot")
	f.Fuzz(func(t *testing.T, text string) {
		cs, _ := parseUSSDCharset(defaultUSSDCharset)
		cmd, err := parseUSSDArgs(strings.Fields(text))
		if err != nil || cs.check(cmd.Arg) != nil {
			return
		}
		if len(cmd.Arg) > ussdMaxLen || strings.Trim(cmd.Arg, "*#0123456789") != "" {
			t.Fatalf("code %q passed", cmd.Arg)
		}
	})
}
