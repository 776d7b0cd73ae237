package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hostDoctor returns a doctor that runs only the host checks.
func hostDoctor(t *testing.T) (*doctor, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	d := &doctor{out: &out, cfg: doctorConfig{wdTimeout: 15 * time.Second}}
	d.host = hostEnv{sysRoot: t.TempDir(), now: time.Now, blink: time.Millisecond, sleep: time.Sleep,
		openLED: func(string, bool) (ledOutput, error) { return nil, os.ErrNotExist },
		openIR:  func(string) (irTransmitter, error) { return nil, os.ErrNotExist }}
	return d, &out
}

// fakeLEDOut records what an LED is told.
type fakeLEDOut struct {
	sets   []bool
	closed bool
}

func (f *fakeLEDOut) Set(on bool) error { f.sets = append(f.sets, on); return nil }
func (f *fakeLEDOut) Close() error      { f.closed = true; return nil }

func TestDoctorLED(t *testing.T) {
	d, out := hostDoctor(t)
	d.checkLED()
	if l := line(out.String(), "led"); !strings.HasPrefix(l, "warn") || !strings.Contains(l, "no -led") {
		t.Errorf("no -led: %q", l)
	}

	d, out = hostDoctor(t)
	d.cfg.led = "GPIO17"
	d.checkLED()
	if l := line(out.String(), "led"); !strings.HasPrefix(l, "warn") || !strings.Contains(l, "cannot be opened") {
		t.Errorf("broken -led: %q", l)
	}
	if d.failed() != 0 {
		t.Error("a missing LED is a failure; it only degrades smsgate")
	}

	d, out = hostDoctor(t)
	d.cfg.led = "GPIO17"
	led := &fakeLEDOut{}
	var asked string
	d.host.openLED = func(name string, activeLow bool) (ledOutput, error) { asked = name; return led, nil }
	d.checkLED()
	if l := line(out.String(), "led"); !strings.HasPrefix(l, "ok") || asked != "GPIO17" {
		t.Errorf("led %q opened %q", l, asked)
	}
	if len(led.sets) != 2 || !led.sets[0] || led.sets[1] || !led.closed {
		t.Errorf("LED told %v, closed %v; want one blink, then closed", led.sets, led.closed)
	}
}

func TestDoctorIR(t *testing.T) {
	codes := repeatFlag{"hifi-power=samsung32:0x2c2c1e", "tv=rc5:0x050c"}
	d, out := hostDoctor(t)
	d.cfg.ir, d.cfg.irCodes, d.cfg.irTest = "/dev/lirc0", codes, "hifi-power"
	dev := &carrierLIRC{fakeLIRC: fakeLIRC{features: lircCanSendPulse | lircCanSetCarrier | lircCanSetDutyCycle, set: map[uint]uint32{}}}
	d.host.openIR = func(name string) (irTransmitter, error) { return newLIRCTX(dev) }
	d.checkIR(context.Background())
	l := line(out.String(), "ir")
	if !strings.HasPrefix(l, "ok") || !strings.Contains(l, "36000, 38000 Hz") || !strings.Contains(l, "sent hifi-power once") {
		t.Errorf("ir line %q", l)
	}
	if len(dev.written) != 1 || !dev.closed {
		t.Errorf("%d transmissions, closed %v; want 1 and closed", len(dev.written), dev.closed)
	}
	// Each code's carrier was asked of the device before the test send.
	if got := fmt.Sprint(dev.carriers); got != "[36000 38000 38000]" {
		t.Errorf("carriers set %s, want 36000 and 38000, then 38000 for the send", got)
	}

	// A device that refuses a carrier is a warning: the gateway runs, that
	// code does not work.
	d, out = hostDoctor(t)
	d.cfg.ir, d.cfg.irCodes = "/dev/lirc0", codes
	bad := &refusingLIRC{fakeLIRC{features: lircCanSendPulse | lircCanSetCarrier, set: map[uint]uint32{}}}
	d.host.openIR = func(string) (irTransmitter, error) { return newLIRCTX(bad) }
	d.checkIR(context.Background())
	if l := line(out.String(), "ir"); !strings.HasPrefix(l, "warn") || !strings.Contains(l, "carrier 36000 Hz refused") {
		t.Errorf("ir line %q", l)
	}

	d, out = hostDoctor(t)
	d.cfg.ir, d.cfg.irCodes = "/dev/lirc0", codes
	d.checkIR(context.Background())
	if l := out.String(); !strings.HasPrefix(l, "warn") || !strings.Contains(l, "fix: add dtoverlay=gpio-ir-tx") {
		t.Errorf("missing device: %q\n%s", l, out)
	}
}

// carrierLIRC records every carrier it is given.
type carrierLIRC struct {
	fakeLIRC
	carriers []uint32
}

func (c *carrierLIRC) SetU32(req uint, v uint32) error {
	if req == lircSetSendCarrier {
		c.carriers = append(c.carriers, v)
	}
	return c.fakeLIRC.SetU32(req, v)
}

type refusingLIRC struct{ fakeLIRC }

func (r *refusingLIRC) SetU32(req uint, v uint32) error {
	if req == lircSetSendCarrier && v == 36000 {
		return errors.New("invalid argument")
	}
	return r.fakeLIRC.SetU32(req, v)
}

// fakeWatchdogSysfs makes /sys/class/watchdog/watchdog0 as the BCM2835
// driver shows it.
func fakeWatchdogSysfs(t *testing.T, root string, attrs map[string]string) {
	t.Helper()
	dir := filepath.Join(root, "class", "watchdog", "watchdog0")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{"identity": "Broadcom BCM2835 Watchdog timer", "state": "inactive", "timeout": "15",
		"max_timeout": "15", "bootstatus": "0", "nowayout": "0", "status": "0x8000"}
	for k, v := range attrs {
		base[k] = v
	}
	for k, v := range base {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v+"\n"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
}

// charDevice returns the path of a character device named watchdog in a
// temporary directory: a symlink to /dev/null.
func charDevice(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "watchdog")
	if err := os.Symlink("/dev/null", p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDoctorWatchdog(t *testing.T) {
	for _, tc := range []struct {
		name   string
		dev    func(t *testing.T) string
		attrs  map[string]string
		sysfs  bool
		level  string
		wants  []string
		nowant string
	}{
		{"disabled", func(*testing.T) string { return "" }, nil, false, "warn", []string{"disabled"}, ""},
		{"missing", func(t *testing.T) string { return filepath.Join(t.TempDir(), "watchdog") }, nil, false, "warn",
			[]string{"does not exist", "dtparam=watchdog=on"}, ""},
		{"not a device", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "watchdog")
			os.WriteFile(p, nil, 0o600)
			return p
		}, nil, false, "warn", []string{"not a character device"}, ""},
		{"no sysfs", charDevice, nil, false, "ok", []string{"sysfs says nothing"}, ""},
		{"bcm2835", charDevice, nil, true, "ok",
			[]string{`watchdog0: "Broadcom BCM2835 Watchdog timer"`, "state inactive", "timeout 15", "bootstatus 0", "not opened"}, "another process"},
		{"held by init", charDevice, map[string]string{"state": "active"}, true, "ok",
			[]string{"state active", "another process feeds it"}, ""},
		{"reset by watchdog", charDevice, map[string]string{"bootstatus": "32"}, true, "warn",
			[]string{"last boot was caused by the watchdog"}, ""},
		{"timeout over max", charDevice, map[string]string{"max_timeout": "10"}, true, "warn",
			[]string{"over the device's maximum 10 s", "-watchdog-timeout=10s"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, out := hostDoctor(t)
			d.cfg.watchdog = tc.dev(t)
			if tc.sysfs {
				fakeWatchdogSysfs(t, d.host.sysRoot, tc.attrs)
			}
			d.checkWatchdog()
			l := out.String()
			if !strings.HasPrefix(l, tc.level+" ") {
				t.Errorf("level: %q, want %s", l, tc.level)
			}
			for _, w := range tc.wants {
				if !strings.Contains(l, w) {
					t.Errorf("no %q in %q", w, l)
				}
			}
			if tc.nowant != "" && strings.Contains(l, tc.nowant) {
				t.Errorf("%q in %q", tc.nowant, l)
			}
			if d.failed() != 0 {
				t.Error("a watchdog problem is a failure; it only degrades smsgate")
			}
		})
	}
}

func TestDoctorClock(t *testing.T) {
	d, out := hostDoctor(t)
	d.host.now = func() time.Time { return time.Unix(0, 0) }
	d.checkClock()
	if l := out.String(); !strings.HasPrefix(l, "warn") || !strings.Contains(l, "1970-01-01") {
		t.Errorf("clock line %q", l)
	}
	d, out = hostDoctor(t)
	d.host.now = func() time.Time { return time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC) }
	d.checkClock()
	if l := out.String(); !strings.HasPrefix(l, "ok") {
		t.Errorf("clock line %q", l)
	}
}
