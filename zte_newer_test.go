package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// The F50 lists content as base64 of UTF-8: every text comes back as it
// was delivered, a short one that also reads as hex ("h t" is "aCB0")
// included, with nothing to log.
func TestF50InboxReadsBase64(t *testing.T) {
	sim, m, clk := startSim(t, "f50", "pw", "pw")
	texts := []string{"h t", "status 1234", "перезагрузка", "ok 👍", "line\nbreak"}
	for _, s := range texts {
		sim.Deliver("+21612345678", s, clk.Now())
	}
	msgs, err := m.Inbox(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != len(texts) {
		t.Fatalf("%d messages, want %d", len(msgs), len(texts))
	}
	for i, s := range msgs {
		if s.Text != texts[i] || s.Problem != "" || s.From != "+21612345678" {
			t.Errorf("message %d: %+v, want %q", i, s, texts[i])
		}
	}
}

// Without the web UI's hint (a build whose config.js does not say
// u30air), the form is learnt from the first record that reads one way
// only, and a record that reads both ways is never read as a command.
func TestF50WithoutHintLearnsTheForm(t *testing.T) {
	p := simPersonalities["f50"]
	p.configJS, p.model, p.inner = "", "X9", "BD_X9V1.0.0B01"
	sim, m, clk := startSimAs(t, p, "pw", "pw")
	sim.Deliver("+21612345678", "h t", clk.Now().Add(-time.Minute))
	msgs, err := m.Inbox(context.Background())
	if err != nil || len(msgs) != 1 {
		t.Fatalf("%v %v", msgs, err)
	}
	if msgs[0].Text == "h t" || msgs[0].Problem == "" {
		t.Errorf("ambiguous record before the form is known: %+v (want hex read, both readings logged)", msgs[0])
	}
	sim.Deliver("+21612345678", "reboot", clk.Now())
	msgs, err = m.Inbox(context.Background())
	if err != nil || len(msgs) != 2 {
		t.Fatalf("%v %v", msgs, err)
	}
	if msgs[0].Text != "h t" || msgs[0].Problem != "" || msgs[1].Text != "reboot" {
		t.Errorf("after a base64-only record: %+v", msgs)
	}
}

// What smsgate sends holds no character beyond the BMP: each becomes
// U+FFFD, the body is whole UTF-16 units without surrogates, and the log
// says so once however many sends.
func TestSendReplacesCharactersBeyondTheBMP(t *testing.T) {
	for _, p := range []string{"mf920v", "f50"} {
		t.Run(p, func(t *testing.T) {
			sim, m, _ := startSim(t, p, "pw", "pw")
			var logs strings.Builder
			m.log = slog.New(slog.NewTextHandler(&logs, nil))
			for _, text := range []string{"ok 👍", "🎉 done 🎉", "plain"} {
				if err := m.Send(context.Background(), "+21612345678", text); err != nil {
					t.Fatal(err)
				}
			}
			want := []string{"ok \uFFFD", "\uFFFD done \uFFFD", "plain"}
			sent := sim.Record().Sent
			for i, s := range sent {
				body := s.Form.Get("MessageBody")
				if s.Text != want[i] || len(body)%4 != 0 || strings.Contains(strings.ToUpper(body), "D83") {
					t.Errorf("sent %q as %q, want %q in whole units without surrogates", s.Text, body, want[i])
				}
			}
			if n := strings.Count(logs.String(), "beyond the BMP"); n != 1 {
				t.Errorf("%d log lines about it, want 1:\n%s", n, logs.String())
			}
		})
	}
}

// The simulator takes a body as the web UIs write it: a character beyond
// the BMP as its bare code point.
func TestSimAcceptsTheUIsCodePoints(t *testing.T) {
	for body, want := range map[string]string{
		"004800691F44D0021": "Hi👍!",
		"1F44D":             "👍",
		"00480069":          "Hi",
		"D83DDC4D":          "👍",
	} {
		got, ok := simUnhexUIBody(body)
		if !ok || got != want {
			t.Errorf("%q: %q %v, want %q", body, got, ok, want)
		}
	}
	for _, bad := range []string{"0048006", "zzzz", "0048D"} {
		if got, ok := simUnhexUIBody(bad); ok {
			t.Errorf("%q accepted as %q", bad, got)
		}
	}
}

// A ZXIC dongle is found under /reqproc/ by a read, before any login.
func TestZXICFoundWithoutALogin(t *testing.T) {
	sim, m, _ := startSim(t, "zxic", "pw", "pw")
	if _, err := m.Probe(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !m.reqproc || len(sim.Record().Logins) != 0 {
		t.Errorf("reqproc %v, %d logins", m.reqproc, len(sim.Record().Logins))
	}
	if d := m.Detected(); d.Generation != genZXIC || d.Firmware != "ZXIC_MF79S_V1.0.0B02" {
		t.Errorf("detected %+v", d)
	}
	// A classic modem never goes there.
	_, m2, _ := startSim(t, "mf920v", "pw", "pw")
	if _, err := m2.Probe(context.Background()); err != nil || m2.reqproc || m2.reqprocTried {
		t.Errorf("classic: %v reqproc %v tried %v", err, m2.reqproc, m2.reqprocTried)
	}
}
