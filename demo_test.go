package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDemo types what a newcomer would into `smsgate demo` and checks that
// every decision, every reply and the LED state are shown.
func TestDemo(t *testing.T) {
	in := strings.Join([]string{"help", "status", "reboot", "stranger: reboot", "modem reconnect", "/no-data", "ping", "/quit", "ping"}, "\n")
	var out, errOut bytes.Buffer
	if err := run([]string{"demo"}, strings.NewReader(in), &out, &errOut); err != nil {
		t.Fatalf("demo: %v\n%s", err, errOut.String())
	}
	s := out.String()
	for _, want := range []string{
		`decision=executed command=help`,
		`-> SMS to +15550001111: smsgate: status | ping | reboot | modem reboot | modem reconnect | ir NAME [N] (hifi-power,tv-power) | ussd CODE | pause 30m | resume | help`,
		`decision=executed command=status`,
		`-> SMS to +15550001111: LTE 4/5 -95dBm SimTel, data up 100.64.12.34`,
		`msg=action action=reboot detail="" dry_run=true`,
		`-> SMS to +15550001111: rebooting the Pi now`,
		`from=+15559998888 decision=ignored command="" reason="sender not in -allow; left in the inbox" text=reboot`,
		`-> SMS to +15550001111: reconnecting mobile data now`,
		`led="steady on (all fine)"`,
		`led="slow blink (modem up, no mobile data or signal)"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if n := len(regexp.MustCompile(`-> SMS to \+15559998888`).FindAllString(s, -1)); n != 0 {
		t.Error("the demo answered the stranger")
	}
	if n := strings.Count(s, "command=ping"); n != 1 {
		t.Errorf("%d pings handled, want 1 (input after /quit is not read)", n)
	}
}

func TestDemoWithPIN(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"demo", "-pin", "4711"}, strings.NewReader("status\n4711 ping\n"), &out, &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.Contains(s, "decision=rejected command=\"\" reason=\"wrong PIN\"") || !strings.Contains(s, "decision=executed command=ping") {
		t.Errorf("demo with PIN:\n%s", s)
	}
}

func TestHelpAndUsage(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"run", "-h"}, {"list", "-h"}, {"send", "-h"}, {"ir-print", "-h"}, {"sim", "-h"}} {
		var out bytes.Buffer
		err := run(args, strings.NewReader(""), &out, &out)
		if err != nil && !strings.Contains(err.Error(), "help requested") {
			t.Errorf("%v: %v", args, err)
		}
		if !strings.Contains(out.String(), "smsgate") || len(out.String()) < 100 {
			t.Errorf("%v printed:\n%s", args, out.String())
		}
	}
	var out bytes.Buffer
	if err := run([]string{"frobnicate"}, nil, &out, &out); err == nil {
		t.Error("unknown command accepted")
	}
	if err := run([]string{"run", "-dry-run", "-watchdog", ""}, nil, &out, &out); err == nil || !strings.Contains(err.Error(), "-allow") {
		t.Errorf("daemon started without -allow: %v", err)
	}
}

func TestIRPrint(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"ir-print", "-frames", "2", "nec:0x0408"}, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	// carrier, 67 frame durations, the gap, 3 repeat durations.
	if len(lines) != 1+67+1+3 || lines[0] != "carrier 38000" || lines[1] != "pulse 9000" || lines[len(lines)-2] != "space 2250" {
		t.Errorf("ir-print:\n%s", out.String())
	}
}

// TestBrokenHardwareDoesNotStopTheGateway: a wrong -led or a missing IR
// device is logged, and the daemon still serves SMS.
func TestBrokenHardwareDoesNotStopTheGateway(t *testing.T) {
	sim, _, _ := startSim(t, "mf920v", "pw", "pw")
	id := sim.Deliver(owner, "ir power", time.Now())
	cfg := validFlags(t, "-modem", sim.URL, "-password", "pw", "-timeout", "1s", "-allow", owner,
		"-poll", "10ms", "-led", "NO_SUCH_PIN", "-ir", "/nonexistent/lirc0", "-ir-code", "power=nec:0x0408",
		"-watchdog", "", "-reboot-mode", "syscall")
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- testApp(nil, nil).serve(ctx, cfg, log) }()
	for deadline := time.Now().Add(10 * time.Second); len(sim.Record().Sent) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no reply; log:\n%s", logs.String())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s := logs.String()
	for _, want := range []string{"status LED unavailable", "IR transmitter unavailable", fmt.Sprintf("id=%d", id)} {
		if !strings.Contains(s, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if r := sim.Record().Sent[0].Text; !strings.Contains(r, "ir failed: ir power: transmitter unavailable") {
		t.Errorf("reply %q", r)
	}
}

func TestInitReboot(t *testing.T) {
	tests := []struct {
		pid     int
		exe     string
		systemd bool
		gokrazy bool
		mode    string
		sig     syscall.Signal
	}{
		{1, "/init", false, false, "syscall", 0}, // smsgate is PID 1
		{42, "/lib/systemd/systemd", true, false, "init", syscall.SIGINT},
		{42, "/gokrazy/init", false, true, "init", syscall.SIGTERM},
		{42, "/bin/busybox", false, false, "init", syscall.SIGTERM}, // buildroot
		{42, "/init", false, false, "init", syscall.SIGTERM},
		{42, "/sbin/runit", false, false, "syscall", 0},
		{42, "", false, false, "syscall", 0},
	}
	for _, tt := range tests {
		mode, sig := initReboot(tt.pid, tt.exe, tt.systemd, tt.gokrazy)
		if mode != tt.mode || sig != tt.sig {
			t.Errorf("initReboot(%d, %q, %v, %v) = %s, %v; want %s, %v", tt.pid, tt.exe, tt.systemd, tt.gokrazy, mode, sig, tt.mode, tt.sig)
		}
	}
}

// The demo runs on every family's simulator, detected as the daemon
// detects it.
func TestDemoEveryFamily(t *testing.T) {
	families := map[string]string{"mf920v": "zte", "e3372h": "hilink", "b618": "hilink", "e3372-nologin": "hilink"}
	signal := map[string]string{}         // -95dBm unless said
	for _, n := range atSimFrontNames() { // on a pseudo-terminal (Linux)
		families[n], signal[n] = "at", " -71dBm " // AT+CSQ 21
	}
	for personality, family := range families {
		dbm := signal[personality]
		if dbm == "" {
			dbm = ` -95dBm `
		}
		t.Run(personality, func(t *testing.T) {
			in := strings.Join([]string{"status", "reboot", "stranger: reboot", "/no-data", "ping", "/quit"}, "\n")
			var out bytes.Buffer
			if err := run([]string{"demo", "-personality", personality}, strings.NewReader(in), &out, &out); err != nil {
				t.Fatalf("demo: %v\n%s", err, out.String())
			}
			s := out.String()
			for _, want := range []string{
				"a simulated " + personality + " (" + family + ")",
				`decision=executed command=status`,
				dbm,
				`-> SMS to +15550001111: rebooting the Pi now`,
				`decision=ignored command="" reason="sender not in -allow; left in the inbox" text=reboot`,
				`led="slow blink (modem up, no mobile data or signal)"`,
				`-> SMS to +15550001111: pong`,
			} {
				if !strings.Contains(s, want) {
					t.Errorf("demo output lacks %q\n%s", want, s)
				}
			}
		})
	}
}

// Every personality `sim -h` and `demo -h` name starts, and every one that
// starts is named (the docs found u60pro served but not listed).
func TestSimFrontNamesAreTheSimulators(t *testing.T) {
	names := simFrontNames()
	for _, want := range []string{"mf920v", "f50", "mc889", "zxic", "u60pro", "e3372h", "b618"} {
		if !slices.Contains(names, want) {
			t.Errorf("%s is not listed: %v", want, names)
		}
	}
	for _, n := range names {
		f, err := startSimFront(n, "pw", "127.0.0.1:0")
		if err != nil {
			t.Errorf("%s is listed but does not start: %v", n, err)
			continue
		}
		f.Close()
	}
}

// TestDemoAsREADMESaysIt: what README promises of the demo holds in it:
// `ussd CODE` answers, a pause shows the double blink, and a disruptive
// action's line follows its reply, as the modem saw them.
func TestDemoAsREADMESaysIt(t *testing.T) {
	in := strings.Join([]string{"ussd *100#", "pause 30m", "resume", "reboot", "modem reconnect"}, "\n")
	var out, errOut bytes.Buffer
	if err := run([]string{"demo"}, strings.NewReader(in), &out, &errOut); err != nil {
		t.Fatalf("demo: %v\n%s", err, errOut.String())
	}
	s := out.String()
	if !strings.Contains(s, "-> SMS to "+demoOwner+": ussd *100#: "+demoBalance) {
		t.Errorf("ussd *100# not answered with the balance:\n%s", s)
	}
	pausedAt := strings.Index(s, `msg="paused: smsgate does not log in`)
	if pausedAt < 0 || !strings.Contains(s[pausedAt:], `detail="double blink`) {
		t.Errorf("no double blink shown after the pause:\n%s", s)
	}
	for _, order := range [][]string{
		{"-> SMS to " + demoOwner + ": rebooting the Pi now", "msg=action action=reboot"},
		{"-> SMS to " + demoOwner + ": reconnecting mobile data now", `msg=action action="modem reconnect"`, `msg="modem reconnected"`},
	} {
		at := -1
		for _, line := range order {
			i := strings.Index(s, line)
			if i < 0 || i < at {
				t.Errorf("%q not after %q in the demo's printout:\n%s", line, order[0], s)
				break
			}
			at = i
		}
	}
}

// TestDemoPipedInputIsFinished: at the end of piped input the demo
// decides every SMS it was given, even those the modem's reboot held back,
// before it exits.
func TestDemoPipedInputIsFinished(t *testing.T) {
	lines := []string{"status", "modem reboot", "ping", "help", "stranger: hello", "ir tv-power 25", "status"}
	var out, errOut bytes.Buffer
	if err := run([]string{"demo"}, strings.NewReader(strings.Join(lines, "\n")+"\n"), &out, &errOut); err != nil {
		t.Fatalf("demo: %v\n%s", err, errOut.String())
	}
	s := out.String()
	decided := regexp.MustCompile(`msg=sms id=\d+ from=\+1555(0001111|9998888) decision=`).FindAllString(s, -1)
	if len(decided) != len(lines) {
		t.Errorf("%d SMS decided, want %d:\n%s", len(decided), len(lines), s)
	}
	if n := strings.Count(s, "-> SMS to "+demoOwner); n != len(lines)-1 {
		t.Errorf("%d replies, want %d (every line but the stranger's):\n%s", n, len(lines)-1, s)
	}
}
