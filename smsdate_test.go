package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// datedModem is the simulator's modem as firmware that writes the SMS date
// another way: the records named in dates carry that raw date instead, read
// by the client's own parseSMSDate as modem.go reads any date.
type datedModem struct {
	*Modem
	dates map[int64]string
}

func (d datedModem) Inbox(ctx context.Context) ([]SMS, error) {
	msgs, err := d.Modem.Inbox(ctx)
	for i, m := range msgs {
		if raw, ok := d.dates[m.ID]; ok {
			msgs[i].RawDate = raw
			msgs[i].Time, _ = parseSMSDate(raw)
		}
	}
	return msgs, err
}

// useDates rebuilds h's gateway over a datedModem and returns its dates.
func (h *harness) useDates() map[int64]string {
	dates := map[int64]string{}
	log := slog.New(slog.NewJSONHandler(h.logs, nil))
	actions := &Actions{modem: h.modem, reboot: h.reboots, ir: h.ir, host: h.host, log: log}
	gw, err := NewGateway(h.cfg, datedModem{h.modem, dates}, actions, h.led, log)
	if err != nil {
		h.t.Fatal(err)
	}
	gw.now = h.clk.Now
	h.gw = gw
	return dates
}

// stamp writes at as a modem does: the local time at offset, then the zone
// field as the firmware writes it ("+12" in quarter hours, "+3" in hours).
func stamp(at time.Time, offset time.Duration, zone string) string {
	l := at.In(time.FixedZone("", int(offset/time.Second)))
	return fmt.Sprintf("%02d,%02d,%02d,%02d,%02d,%02d,%s", l.Year()%100, int(l.Month()), l.Day(), l.Hour(), l.Minute(), l.Second(), zone)
}

// TestMaxAgeWhateverTheZoneUnit: -max-age holds whether the modem writes
// the zone in quarter hours or in hours, a fresh command is never refused
// for its zone, and a date in the future runs with its age said unknown.
func TestMaxAgeWhateverTheZoneUnit(t *testing.T) {
	const h = time.Hour
	type testCase struct {
		name   string
		text   string
		ago    time.Duration // how long before the Pi's clock it was sent
		offset time.Duration // the sender's real zone
		zone   string        // the zone field as written
		want   string
		reason string // in the decision's reason
	}
	var tests []testCase
	// Each zone in both units, fresh and 45 minutes old. +4 is UTC+1 in
	// quarter hours and UTC+4 in hours, +12 UTC+3 or UTC+12: the Pi's clock
	// tells them apart. Read in quarter hours, -4 (UTC-1) would make every
	// fresh command from UTC-4 three hours old.
	for _, hours := range []int{1, 3, 4, 12, -3, -4} {
		for _, unit := range []struct {
			name string
			per  int
		}{{"quarter hours", 4}, {"hours", 1}} {
			zone := fmt.Sprintf("%+d", hours*unit.per)
			where := fmt.Sprintf("UTC%+d in %s (%s)", hours, unit.name, zone)
			old := testCase{where + ", 45 min old", "reboot", 45 * time.Minute, time.Duration(hours) * h, zone, "stale", "sent 45m0s ago"}
			if unit.per == 1 && (hours == 4 || hours == 12) {
				// The price of never refusing a fresh command for its
				// unit: read in quarter hours (UTC+1, UTC+3) this date is
				// in the future, and the older reading is not chosen
				// over it (see pass.age).
				old.want, old.reason = "executed", "date in the future: age unknown"
			}
			tests = append(tests,
				testCase{where + ", fresh", "ping", time.Minute, time.Duration(hours) * h, zone, "executed", "authorised"}, old)
		}
	}
	tests = append(tests, []testCase{
		{"UTC+5:30 in quarter hours, 45 min old", "reboot", 45 * time.Minute, 5*h + h/2, "+22", "stale", "sent 45m0s ago"},
		{"UTC-5 in hours, fresh", "ping", time.Minute, -5 * h, "-5", "executed", "authorised"},
		{"UTC-4 in hours, 45 min old, said", "reboot", 45 * time.Minute, -4 * h, "-4", "stale", "zone read in hours"},
		// The Pi's clock hours behind (a power cut under fake-hwclock, no
		// network time while the line is down): the owner's fresh command
		// is not refused because the hours reading would be in the past.
		{"UTC+3 in quarter hours, Pi 3h behind", "modem reconnect", -3 * h, 3 * h, "+12", "executed", "date in the future: age unknown"},
		{"UTC+1 in quarter hours, Pi 2h behind", "modem reconnect", -2 * h, h, "+4", "executed", "date in the future: age unknown"},
		{"UTC+2 in quarter hours, Pi 5h behind", "modem reconnect", -5 * h, 2 * h, "+8", "executed", "date in the future: age unknown"},
		// -12 is UTC-3 in quarter hours; in hours nobody lives there.
		{"UTC-3 in quarter hours, 9h20m old", "reboot", 9*h + 20*time.Minute, -3 * h, "-12", "stale", "sent 9h20m"},
		// An SMSC an hour ahead (summer time stamped with the winter zone):
		// read in hours the date would be two hours old, and every command
		// refused.
		{"UTC+1 in quarter hours, clock an hour ahead", "ping", -h, h, "+4", "executed", "date in the future: age unknown"},
		{"UTC, an hour ahead", "ping", -h, 0, "+0", "executed", "date in the future: age unknown"},
		{"UTC, two days ahead", "modem reconnect", -48 * h, 0, "+0", "executed", "date in the future: age unknown"},
		{"UTC, 3 min ahead", "ping", -3 * time.Minute, 0, "+0", "executed", "authorised"},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, "mf920v", nil)
			dates := hs.useDates()
			id := hs.send(owner, tt.text)
			dates[id] = stamp(hs.clk.Now().Add(-tt.ago), tt.offset, tt.zone)
			hs.step()
			if got := hs.decision(id); got != tt.want {
				t.Errorf("%s dated %s: %s, want %s (%v)", tt.text, dates[id], got, tt.want, hs.smsLines()[id])
			}
			reason, _ := hs.smsLines()[id][0]["reason"].(string)
			if !strings.Contains(reason, tt.reason) {
				t.Errorf("reason %q, want it to say %q", reason, tt.reason)
			}
			if tt.want == "stale" && hs.reboots.count() != 0 {
				t.Error("a stale reboot ran")
			}
		})
	}
}

// TestImplausibleClockZoneUnitCannotFlipAge: without network time, ages
// come from SMS dates compared with each other; a zone in hours or in
// quarter hours cannot make an old command look new.
func TestImplausibleClockZoneUnitCannotFlipAge(t *testing.T) {
	sent := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name                string
		oldZone, newZone    string
		offset              time.Duration
		olderBy             time.Duration
		oldText, lastSaying string
	}{
		// The same firmware writing +3 for the owner's SMSC and +12 for
		// another: both UTC+3.
		{"hours and quarter hours", "+3", "+12", 3 * time.Hour, 2 * time.Hour, "reboot", "hello"},
		{"quarter hours, UTC-3", "-12", "-12", -3 * time.Hour, 9*time.Hour + 15*time.Minute, "reboot", "hello"},
		{"hours, UTC+4", "+4", "+4", 4 * time.Hour, 2 * time.Hour, "reboot", "hello"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, "mf920v", nil)
			dates := h.useDates()
			h.gw.now = func() time.Time { return time.Date(1970, 1, 1, 0, 1, 0, 0, time.UTC) }
			old := h.sim.Deliver(owner, tt.oldText, sent)
			dates[old] = stamp(sent.Add(-tt.olderBy), tt.offset, tt.oldZone)
			last := h.sim.Deliver("+3360000000", tt.lastSaying, sent)
			dates[last] = stamp(sent, tt.offset, tt.newZone)
			h.step()
			if h.decision(old) != "stale" || h.reboots.count() != 0 {
				t.Fatalf("a reboot %s older than the newest SMS ran on a Pi without a clock: %v", tt.olderBy, h.smsLines()[old])
			}
		})
	}
}
