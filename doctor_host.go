package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// hostEnv is what doctor's checks of this machine touch; tests point it at
// temporary directories and fakes.
type hostEnv struct {
	sysRoot string // "/sys"
	now     func() time.Time
	openLED func(name string, activeLow bool) (ledOutput, error)
	openIR  func(name string) (irTransmitter, error)
	blink   time.Duration // how long the LED is lit
	sleep   func(time.Duration)
}

func defaultHostEnv() hostEnv {
	return hostEnv{
		sysRoot: "/sys",
		now:     time.Now,
		openLED: openLEDOutput,
		openIR:  func(name string) (irTransmitter, error) { return openIRTransmitter(name, false) },
		blink:   time.Second,
		sleep:   time.Sleep,
	}
}

func (d *doctor) checkLED() {
	name := d.cfg.led
	if name == "" {
		d.add(check{"led", levelWarn, "no -led: smsgate will show its state on no LED",
			"wire an LED (GPIO17, pin 11, 330 Ω to ground) and add -led=GPIO17, or use the Pi's own: -led=ACT"})
		return
	}
	out, err := d.host.openLED(name, d.cfg.ledActiveLow)
	if err != nil {
		d.add(check{"led", levelWarn, "the LED cannot be opened: " + err.Error(),
			"check the name (GPIO17, P1_11, gpiochip0:17, ACT, PWR) and run as root; smsgate serves SMS without it"})
		return
	}
	err = out.Set(true)
	if err == nil {
		d.host.sleep(d.host.blink)
		err = out.Set(false)
	}
	cerr := out.Close()
	if err = errors.Join(err, cerr); err != nil {
		d.add(check{"led", levelWarn, "the LED opened but cannot be driven: " + err.Error(),
			"run as root, and check that no other program (a kernel trigger, a GPIO daemon) holds the pin"})
		return
	}
	d.add(check{"led", levelOK, fmt.Sprintf("%s opened and lit once for %s: did you see it? If not, check the wiring%s",
		name, d.host.blink, map[bool]string{false: " or try -led-active-low", true: " or drop -led-active-low"}[d.cfg.ledActiveLow]), ""})
}

// checkIR checks the IR flags, opens the transmitter, asks it for every
// code's carrier, and sends -ir-test once.
func (d *doctor) checkIR(ctx context.Context) {
	codes, ok := d.irConfigured()
	if !ok {
		return
	}
	tx, err := d.host.openIR(d.cfg.ir)
	if err != nil {
		fix := "check the device and run as root"
		if strings.HasPrefix(d.cfg.ir, "/") {
			fix = "add dtoverlay=gpio-ir-tx,gpio_pin=18 to /boot/firmware/config.txt and reboot, so that " + d.cfg.ir + " exists; run as root"
		}
		d.add(check{"ir", levelWarn, "the IR transmitter cannot be opened: " + err.Error() + " (smsgate serves SMS without it; ir commands say why)", fix})
		return
	}
	defer tx.Close()
	detail, ok := d.irCarriers(tx, codes)
	if !ok {
		return
	}
	if d.cfg.irTest != "" {
		ir := &IR{codes: codes, tx: tx, toggle: map[string]bool{}}
		if err := ir.Send(ctx, d.cfg.irTest, 1); err != nil {
			d.add(check{"ir", levelWarn, detail + ", but sending " + d.cfg.irTest + " failed: " + err.Error(),
				"check the device with ir-ctl --send, and the code with smsgate ir-print"})
			return
		}
		detail += "; sent " + d.cfg.irTest + " once: did the device react?"
	}
	d.add(check{"ir", levelOK, detail, ""})
}

// irConfigured checks the IR flags as the daemon would; false when that
// already said all there is (a mistake, or IR not configured).
func (d *doctor) irConfigured() (map[string]irCode, bool) {
	codes, err := parseIRCodes(d.cfg.irCodes)
	switch {
	case err != nil:
		d.add(check{"ir", levelFail, err.Error(), "write codes as ir-ctl does: -ir-code=hifi-power=samsung32:0x2c2c1e"})
		return nil, false
	case d.cfg.ir == "" && len(codes) == 0:
		if d.cfg.irTest != "" {
			d.add(check{"ir", levelFail, "-ir-test without -ir and -ir-code", "give the transmitter and the code: -ir=/dev/lirc0 -ir-code=NAME=CODE"})
			return nil, false
		}
		d.add(check{"ir", levelOK, "not configured (no -ir): ir commands are off", ""})
		return nil, false
	case d.cfg.ir == "" || len(codes) == 0:
		d.add(check{"ir", levelFail, "-ir and -ir-code go together: smsgate refuses to start with one alone",
			"give both: -ir=/dev/lirc0 -ir-code=hifi-power=samsung32:0x2c2c1e"})
		return nil, false
	}
	if _, ok := codes[strings.ToLower(d.cfg.irTest)]; d.cfg.irTest != "" && !ok {
		d.add(check{"ir", levelFail, fmt.Sprintf("-ir-test %q: no such -ir-code", d.cfg.irTest), "name one of the -ir-code names"})
		return nil, false
	}
	return codes, true
}

// irCarriers asks the transmitter whether it takes the carrier of every
// code, and returns the line's detail; false when it said a refusal.
func (d *doctor) irCarriers(tx irTransmitter, codes map[string]irCode) (string, bool) {
	carriers := map[int]bool{}
	for _, c := range codes {
		carriers[c.carrier] = true
	}
	var list []int
	for c := range carriers {
		list = append(list, c)
	}
	sort.Ints(list)
	var problems, notes []string
	// carrierTaker is implemented by the transmitters that can be asked.
	type carrierTaker interface {
		TakesCarrier(carrier int) (settable bool, err error)
	}
	for _, c := range list {
		ct, ok := tx.(carrierTaker)
		if !ok {
			break
		}
		settable, err := ct.TakesCarrier(c)
		if err != nil {
			problems = append(problems, fmt.Sprintf("carrier %d Hz refused: %v", c, err))
		} else if !settable {
			notes = append(notes, "the device sets no carrier: it sends its own")
			break
		}
	}
	if len(problems) > 0 {
		d.add(check{"ir", levelWarn, d.cfg.ir + " opened, but " + strings.Join(problems, "; "),
			"use codes whose carrier the transmitter takes, or the gpio-ir-tx overlay and -ir=/dev/lirc0"})
		return "", false
	}
	if len(notes) > 0 {
		return fmt.Sprintf("%s opened (%s)", d.cfg.ir, notes[0]), true
	}
	return fmt.Sprintf("%s opened and accepts the carrier of every code (%s Hz)", d.cfg.ir, joinInts(list)), true
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}

var watchdogName = lazyRegexp(`^watchdog[0-9]+$`)

// watchdogSysfs finds the sysfs directory of a watchdog device. The legacy
// /dev/watchdog is the first watchdog the kernel registered, watchdog0.
func watchdogSysfs(sysRoot, dev string) (string, bool) {
	class := filepath.Join(sysRoot, "class", "watchdog")
	base := filepath.Base(dev)
	if base == "watchdog" {
		base = "watchdog0"
	}
	if watchdogName().MatchString(base) {
		dir := filepath.Join(class, base)
		if _, err := os.Stat(dir); err == nil {
			return dir, true
		}
		return "", false
	}
	// Another name (a udev symlink): the one watchdog, if there is one.
	entries, _ := os.ReadDir(class)
	if len(entries) == 1 {
		return filepath.Join(class, entries[0].Name()), true
	}
	return "", false
}

// checkWatchdog looks at the watchdog device and at what sysfs says of it.
// It never opens the device: opening arms it, and the board would reset
// unless someone fed it.
func (d *doctor) checkWatchdog() {
	path := d.cfg.watchdog
	if path == "" {
		d.add(check{"watchdog", levelWarn, "disabled (-watchdog empty): a wedged Pi will not reset itself",
			"keep the default -watchdog=/dev/watchdog, with dtparam=watchdog=on in /boot/firmware/config.txt"})
		return
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		d.add(check{"watchdog", levelWarn, path + " does not exist: a wedged Pi will not reset itself (smsgate supervises itself instead)",
			"add dtparam=watchdog=on to /boot/firmware/config.txt and reboot (on other boards, load the watchdog driver)"})
		return
	}
	if err != nil {
		d.add(check{"watchdog", levelWarn, err.Error(), "run doctor as root"})
		return
	}
	if fi.Mode()&fs.ModeCharDevice == 0 {
		d.add(check{"watchdog", levelWarn, path + " is not a character device", "give the watchdog device: -watchdog=/dev/watchdog"})
		return
	}
	dir, ok := watchdogSysfs(d.host.sysRoot, path)
	if !ok {
		d.add(check{"watchdog", levelOK, path + " exists (not opened: opening arms it); sysfs says nothing of it (kernel without CONFIG_WATCHDOG_SYSFS)", ""})
		return
	}
	attr := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	var parts []string
	if id := attr("identity"); id != "" {
		parts = append(parts, strconv.Quote(id))
	}
	for _, a := range []string{"state", "timeout", "min_timeout", "max_timeout", "timeleft", "pretimeout", "bootstatus", "status", "nowayout"} {
		if v := attr(a); v != "" {
			parts = append(parts, a+" "+v)
		}
	}
	detail := fmt.Sprintf("%s is %s: %s; not opened (opening arms it)", path, filepath.Base(dir), strings.Join(parts, ", "))
	var warnings []string
	fix := ""
	if reset, _ := sysfsBootStatus(attr("bootstatus")); reset {
		warnings = append(warnings, "the last boot was caused by the watchdog")
		fix = "if that was not a test, something stalled the Pi: look at the logs of the boot before"
	}
	if maxT, err := strconv.Atoi(attr("max_timeout")); err == nil && maxT > 0 && d.cfg.wdTimeout > time.Duration(maxT)*time.Second {
		warnings = append(warnings, fmt.Sprintf("-watchdog-timeout %s is over the device's maximum %d s: it will apply %d s", d.cfg.wdTimeout, maxT, maxT))
		if fix == "" {
			fix = fmt.Sprintf("-watchdog-timeout=%ds", maxT)
		}
	}
	if attr("state") == "active" {
		detail += "; active: another process feeds it (gokrazy's init, systemd) and smsgate will supervise itself"
	}
	if len(warnings) > 0 {
		d.add(check{"watchdog", levelWarn, detail + "; " + strings.Join(warnings, "; "), fix})
		return
	}
	d.add(check{"watchdog", levelOK, detail, ""})
}

func (d *doctor) checkClock() {
	now := d.host.now()
	if now.Year() < plausibleEpoch {
		d.add(check{"clock", levelWarn, fmt.Sprintf("the clock says %s: not set (no RTC, no NTP yet); -max-age is not applied until it is",
			now.UTC().Format("2006-01-02 15:04 MST")),
			"let NTP set it (the Pi needs the network once after boot), or add an RTC or fake-hwclock"})
		return
	}
	d.add(check{"clock", levelOK, now.UTC().Format("2006-01-02 15:04 MST"), ""})
}
