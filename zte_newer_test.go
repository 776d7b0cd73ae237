package main

import (
	"context"
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
