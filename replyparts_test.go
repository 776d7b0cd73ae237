//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFitParts(t *testing.T) {
	gsm := strings.Repeat("status line ", 100)
	ucs := strings.Repeat("Баланс ", 100)
	for _, c := range []struct {
		text string
		n    int
	}{{gsm, 1}, {gsm, 2}, {gsm, 4}, {ucs, 3}, {"short", 4}, {"", 2}} {
		got := fitParts(c.text, c.n)
		if p := smsParts(got); p > c.n || (smsParts(c.text) >= c.n && p != c.n) {
			t.Errorf("fitParts(%.10q, %d) costs %d parts", c.text, c.n, p)
		}
		if smsParts(c.text) <= c.n && got != c.text {
			t.Errorf("fitParts changed a text that fits")
		}
		if smsEncoding(got) != smsEncoding(c.text) {
			t.Errorf("fitParts changed the encoding")
		}
	}
}

// -reply-parts lets status, help, USSD and -cmd output use more parts;
// every other reply, and forwards, stay one SMS.
func TestReplyParts(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "report")
	body := "#!/bin/sh\n" + strings.Repeat("echo disk ok, backups ok, temperature fine, all services running\n", 10)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	progs, err := parsePrograms([]string{"report=" + script}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	h := ownerHarness(t, OwnerConfig{ReplyParts: 3, Forward: forwardAll}, nil)
	h.gw.actions.programs = progs
	for _, text := range []string{"report", "what is this " + strings.Repeat("x", 300), "help"} {
		h.sim.Deliver(owner, text, h.clk.Now())
		h.step()
	}
	h.sim.Deliver("+33612345678", strings.Repeat("a long stranger's message ", 20), h.clk.Now())
	h.step()
	h.step()
	r := h.sentTo(owner)
	if len(r) != 4 {
		t.Fatalf("sent %q", r)
	}
	if p := smsParts(r[0]); p != 3 || strings.Count(r[0], "disk ok") < 3 {
		t.Errorf("-cmd output took %d parts: %q", p, r[0])
	}
	if r[1] != unknownCommandReply || smsParts(r[3]) != 1 || !strings.HasPrefix(r[3], forwardMarker) {
		t.Errorf("other replies and forwards must stay one SMS: %q, %q", r[1], r[3])
	}
	h2 := ownerHarness(t, OwnerConfig{}, nil)
	h2.gw.actions.programs = progs
	h2.sim.Deliver(owner, "report", h2.clk.Now())
	h2.step()
	if r := h2.sentTo(owner); len(r) != 1 || smsParts(r[0]) != 1 {
		t.Errorf("without -reply-parts: %q", r)
	}
}
