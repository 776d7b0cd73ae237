package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

// countingTX counts transmissions.
type countingTX struct{ sent int }

func (c *countingTX) Transmit(int, int, []uint32) error { c.sent++; return nil }
func (c *countingTX) Close() error                      { return nil }

// TestDryRunDecidesAsRealRun: with -dry-run an ir command is refused for
// exactly what a real run refuses (an unknown code, a count out of range),
// and only the transmission is left out.
func TestDryRunDecidesAsRealRun(t *testing.T) {
	codes, err := parseIRCodes([]string{"hifi-power=samsung32:0x2c2c1e"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cmd     Command
		ok      bool
		inReply string
	}{
		{Command{Name: "ir", Arg: "nosuchcode", Count: 1}, false, `no code named "nosuchcode"`},
		{Command{Name: "ir", Arg: "hifi-power", Count: 0}, false, "count 0"},
		{Command{Name: "ir", Arg: "hifi-power", Count: maxIRCount + 1}, false, "count 21"},
		{Command{Name: "ir", Arg: "hifi-power", Count: 2}, true, "ir hifi-power sent x2"},
		{Command{Name: "ir", Arg: "HIFI-POWER", Count: 1}, true, "sent x1"},
	}
	for _, dry := range []bool{false, true} {
		for _, tt := range tests {
			tx := &countingTX{}
			a := &Actions{ir: &IR{codes: codes, tx: tx, toggle: map[string]bool{}}, dryRun: dry, log: slog.New(slog.DiscardHandler)}
			reply, _, err := a.runIR(context.Background(), tt.cmd)
			if (err == nil) != tt.ok || !strings.Contains(reply, tt.inReply) {
				t.Errorf("dry run %v, %s: %q, %v; want ok %v and %q", dry, tt.cmd, reply, err, tt.ok, tt.inReply)
			}
			want := 0
			if tt.ok && !dry {
				want = 1
			}
			if tx.sent != want {
				t.Errorf("dry run %v, %s: %d transmissions, want %d", dry, tt.cmd, tx.sent, want)
			}
			if dry && tt.ok && !strings.HasSuffix(reply, "(dry run)") {
				t.Errorf("dry run reply %q does not say so", reply)
			}
		}
	}
}

// TestDryRunUnknownIRCodeFails: the witness's case end to end: in a dry
// run, "ir nosuchcode" is failed and answered why, not reported sent.
func TestDryRunUnknownIRCodeFails(t *testing.T) {
	h := newHarness(t, "mf920v", nil)
	codes, _ := parseIRCodes([]string{"hifi-power=samsung32:0x2c2c1e"})
	h.gw.actions.dryRun = true
	h.gw.actions.ir = &IR{codes: codes, tx: nopTX{}, toggle: map[string]bool{}}
	bad := h.send(owner, "ir nosuchcode")
	good := h.send(owner, "ir hifi-power")
	h.step()
	if d := h.decision(bad); d != "failed" {
		t.Errorf("ir nosuchcode: %s, want failed", d)
	}
	if d := h.decision(good); d != "executed" {
		t.Errorf("ir hifi-power: %s, want executed", d)
	}
	r := strings.Join(h.replies(), "\n")
	if !strings.Contains(r, `no code named "nosuchcode"`) || strings.Contains(r, "nosuchcode sent") ||
		!strings.Contains(r, "ir hifi-power sent x1 (dry run)") {
		t.Errorf("replies %q", r)
	}
}
