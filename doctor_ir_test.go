package main

import (
	"context"
	"strings"
	"testing"
)

// TestDoctorIRLines pins each of doctor's IR lines that the flags decide,
// and the one of a device without carrier control (it opens as a LIRC
// device that can only send pulses), as printed before the check was
// split in three.
func TestDoctorIRLines(t *testing.T) {
	codes := repeatFlag{"hifi-power=samsung32:0x2c2c1e"}
	for _, tc := range []struct {
		name     string
		ir, test string
		codes    repeatFlag
		want     string
	}{
		{"bad code", "/dev/lirc0", "", repeatFlag{"x=nope:1"}, "FAIL  ir         "},
		{"test without ir", "", "hifi-power", nil, "FAIL  ir         -ir-test without -ir and -ir-code"},
		{"not configured", "", "", nil, "ok    ir         not configured (no -ir): ir commands are off"},
		{"ir alone", "/dev/lirc0", "", nil, "FAIL  ir         -ir and -ir-code go together: smsgate refuses to start with one alone"},
		{"codes alone", "", "", codes, "FAIL  ir         -ir and -ir-code go together: smsgate refuses to start with one alone"},
		{"unknown test", "/dev/lirc0", "tv", codes, `FAIL  ir         -ir-test "tv": no such -ir-code`},
		{"no carrier control", "/dev/lirc0", "", codes, "ok    ir         /dev/lirc0 opened (the device sets no carrier: it sends its own)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, out := hostDoctor(t)
			d.cfg.ir, d.cfg.irCodes, d.cfg.irTest = tc.ir, tc.codes, tc.test
			d.host.openIR = func(string) (irTransmitter, error) {
				return newLIRCTX(&fakeLIRC{features: lircCanSendPulse, set: map[uint]uint32{}})
			}
			d.checkIR(context.Background())
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if !strings.HasPrefix(lines[0], tc.want) {
				t.Errorf("ir line\n got %q\nwant %q", lines[0], tc.want)
			}
		})
	}
}
