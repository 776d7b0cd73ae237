package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// noReboot is what tests give the daemon instead of the machine's
// rebooter.
type noReboot struct{}

func (noReboot) Reboot(context.Context) error { return errors.New("tests never reboot") }

func testApp(stdin io.Reader, out io.Writer) *app {
	if out == nil {
		out = io.Discard
	}
	return &app{stdin: stdin, stdout: out, stderr: out,
		newRebooter: func(rebootConfig, *slog.Logger) rebooter { return noReboot{} }}
}

// run runs smsgate as main does, with a rebooter that cannot reboot.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	a := testApp(stdin, stdout)
	a.stderr = stderr
	return a.run(args)
}

// validFlags parses and validates daemon flags, failing the test on a
// mistake.
func validFlags(t *testing.T, args ...string) validConfig {
	t.Helper()
	cfg, err := parseDaemonFlags(args, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func parseDaemonFlags(args []string, getenv func(string) string) (validConfig, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return parseDaemonArgs(fs, args, getenv, func() string { return "" })
}

func TestValidate(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	ok := []string{"-allow", "+21612345678"}
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		want  []string // substrings of the error; none: valid
		check func(t *testing.T, c validConfig)
	}{
		{name: "defaults with an owner", args: ok, check: func(t *testing.T, c validConfig) {
			if c.modem.URL != "http://192.168.0.1" || c.watchdog.path != "/dev/watchdog" || c.reboot.mode != "auto" || len(c.gateway.Allow) != 1 {
				t.Errorf("%+v", c)
			}
		}},
		{name: "no owner", want: []string{"no -allow numbers"}},
		{name: "national number without country code", args: []string{"-allow", "012345678"}, want: []string{`-allow "012345678": give it in international form`}},
		{name: "national number with country code", args: []string{"-allow", "012345678", "-country-code", "+216"}, check: func(t *testing.T, c validConfig) {
			if c.gateway.Allow[0] != "+21612345678" || c.gateway.CountryCode != "216" {
				t.Errorf("allow %v country %q", c.gateway.Allow, c.gateway.CountryCode)
			}
		}},
		{name: "country code not digits", args: append([]string{"-country-code", "tn"}, ok...), want: []string{"-country-code"}},
		{name: "bad modem url", args: append([]string{"-modem", "192.168.0.1"}, ok...), want: []string{"-modem"}},
		{name: "zero timeout", args: append([]string{"-timeout", "0s"}, ok...), want: []string{"-timeout"}},
		{name: "zero rate", args: append([]string{"-rate", "0"}, ok...), want: []string{"-rate 0"}},
		{name: "zero poll and max-age", args: append([]string{"-poll", "0s", "-max-age", "0s"}, ok...), want: []string{"-poll", "-max-age"}},
		{name: "negative reboot interval", args: append([]string{"-reboot-interval", "-1s"}, ok...), want: []string{"-reboot-interval"}},
		{name: "check-host without port", args: append([]string{"-check-host", "example.com"}, ok...), want: []string{"-check-host"}},
		{name: "log format", args: append([]string{"-log-format", "xml"}, ok...), want: []string{"-log-format"}},
		{name: "ir without codes", args: append([]string{"-ir", "/dev/lirc0"}, ok...), want: []string{"-ir and -ir-code go together"}},
		{name: "codes without ir", args: append([]string{"-ir-code", "tv=nec:0x0408"}, ok...), want: []string{"-ir and -ir-code go together"}},
		{name: "bad ir code", args: append([]string{"-ir", "/dev/lirc0", "-ir-code", "tv=nope:1"}, ok...), want: []string{"-ir-code tv"}},
		{name: "ir with codes", args: append([]string{"-ir", "/dev/lirc0", "-ir-code", "tv=nec:0x0408"}, ok...), check: func(t *testing.T, c validConfig) {
			if len(c.irCodes) != 1 || c.ir != "/dev/lirc0" {
				t.Errorf("ir %q codes %v", c.ir, c.irCodes)
			}
		}},
		{name: "watchdog timeout under a second", args: append([]string{"-watchdog-timeout", "500ms"}, ok...), want: []string{"-watchdog-timeout"}},
		{name: "short watchdog timeout without watchdog", args: append([]string{"-watchdog", "", "-watchdog-timeout", "500ms"}, ok...)},
		{name: "reboot mode", args: append([]string{"-reboot-mode", "kexec"}, ok...), want: []string{"-reboot-mode"}},
		{name: "reboot grace", args: append([]string{"-reboot-grace", "0s"}, ok...), want: []string{"-reboot-grace"}},
		{name: "missing -cmd program", args: append([]string{"-cmd", "vpn=/nonexistent/restart-vpn"}, ok...), want: []string{"-cmd vpn", "no such file"}},
		{name: "-cmd program", args: append([]string{"-cmd", "up=/bin/true"}, ok...)},
		{name: "-totp without a secret", args: append([]string{"-totp"}, ok...), want: []string{"no secret in SMSGATE_TOTP"}},
		{name: "-totp with a bad secret", args: append([]string{"-totp"}, ok...), env: map[string]string{"SMSGATE_TOTP": "not-base32!"}, want: []string{"-totp: SMSGATE_TOTP: not base32"}},
		{name: "-totp and a PIN", args: append([]string{"-totp"}, ok...), env: map[string]string{"SMSGATE_TOTP": "JBSWY3DPEHPK3PXP", "SMSGATE_PIN": "4711"}, want: []string{"choose one"}},
		{name: "-totp", args: append([]string{"-totp"}, ok...), env: map[string]string{"SMSGATE_TOTP": "jbsw y3dp ehpk 3pxp"},
			check: func(t *testing.T, c validConfig) {
				if c.gateway.TOTP == nil || string(c.gateway.TOTP.key) != "Hello!\xde\xad\xbe\xef" || c.gateway.secret() != secretTOTP {
					t.Errorf("totp %+v", c.gateway.TOTP)
				}
			}},
		{name: "SMSGATE_TOTP without -totp is not used", args: ok, env: map[string]string{"SMSGATE_TOTP": "JBSWY3DPEHPK3PXP"},
			check: func(t *testing.T, c validConfig) {
				if c.gateway.TOTP != nil {
					t.Error("one-time codes without -totp")
				}
			}},
		{name: "alerts and healing by default", args: ok, check: func(t *testing.T, c validConfig) {
			g := c.gateway
			if g.AlertTo != nil || g.AlertMax != 10 || !g.Heal.Enabled || g.Heal.After != 10*time.Minute || g.Heal.Max != 3 || g.Heal.RebootPi || c.alertStart {
				t.Errorf("alerts %v max %d, heal %+v, alert-start %v", g.AlertTo, g.AlertMax, g.Heal, c.alertStart)
			}
		}},
		{name: "-alert none", args: append([]string{"-alert", ""}, ok...), check: func(t *testing.T, c validConfig) {
			if c.gateway.AlertTo == nil || len(c.gateway.AlertTo) != 0 {
				t.Errorf("alerts to %#v", c.gateway.AlertTo)
			}
		}},
		{name: "-alert numbers", args: append([]string{"-alert", "+15550001111,0612345678", "-country-code", "216"}, ok...), check: func(t *testing.T, c validConfig) {
			if fmt.Sprint(c.gateway.AlertTo) != "[+15550001111 +216612345678]" {
				t.Errorf("alerts to %v", c.gateway.AlertTo)
			}
		}},
		{name: "-alert national without country code", args: append([]string{"-alert", "0612345678"}, ok...), want: []string{`-alert "0612345678"`}},
		{name: "healing and alert bounds", args: append([]string{"-heal-after", "0s", "-heal-max", "0", "-alert-max", "0"}, ok...),
			want: []string{"-heal-after", "-heal-max", "-alert-max"}},
		{name: "repeated -check-host", args: append([]string{"-check-host", "a.example:443", "-check-host", "b.example:53", "-heal=false", "-heal-reboot-pi"}, ok...),
			check: func(t *testing.T, c validConfig) {
				if fmt.Sprint(c.checkHost) != "[a.example:443 b.example:53]" || fmt.Sprint(c.gateway.CheckHosts) != "[a.example:443 b.example:53]" || c.gateway.Heal.Enabled || !c.gateway.Heal.RebootPi {
					t.Errorf("check hosts %v %v heal %+v", c.checkHost, c.gateway.CheckHosts, c.gateway.Heal)
				}
			}},
		{name: "every mistake at once", args: []string{"-rate", "0", "-reboot-mode", "x", "-ir", "/dev/lirc0"},
			want: []string{"no -allow", "-rate", "-reboot-mode", "-ir and -ir-code"}},
		{name: "secrets from the environment", args: ok, env: map[string]string{"SMSGATE_PASSWORD": "pw", "SMSGATE_PIN": "4711"},
			check: func(t *testing.T, c validConfig) {
				if c.modem.Password != "pw" || c.gateway.PIN != "4711" || c.passwordFromFlag {
					t.Errorf("password %q pin %q fromFlag %v", c.modem.Password, c.gateway.PIN, c.passwordFromFlag)
				}
			}},
		{name: "flags win over the environment", args: append([]string{"-password", "flagpw", "-pin", "1"}, ok...), env: map[string]string{"SMSGATE_PIN": "4711"},
			check: func(t *testing.T, c validConfig) {
				if c.modem.Password != "flagpw" || c.gateway.PIN != "1" || !c.passwordFromFlag {
					t.Errorf("password %q pin %q fromFlag %v", c.modem.Password, c.gateway.PIN, c.passwordFromFlag)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env = tt.env
			c, err := parseDaemonFlags(tt.args, getenv)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if tt.check != nil {
					tt.check(t, c)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestHardwareStopsTheWatchdog(t *testing.T) {
	for _, nowayout := range []bool{false, true} {
		dev := &fakeWatchdog{}
		h := &hardware{log: slog.New(slog.DiscardHandler), wd: dev, nowayout: nowayout}
		h.Close()
		h.Close()
		if dev.disarmed == nowayout || dev.leftArmed != nowayout {
			t.Errorf("nowayout %v: disarmed %v, left armed %v", nowayout, dev.disarmed, dev.leftArmed)
		}
	}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"help"}, 0},
		{[]string{"-h"}, 0},
		{[]string{"ir-print", "nec:0x0408"}, 0},
		{[]string{"frobnicate"}, 125},
		{[]string{"run", "-no-such-flag"}, 125},
		{[]string{"run", "-watchdog="}, 125}, // no -allow
		{[]string{"run", "-allow=+21612345678", "-reboot-mode=x"}, 125},
		{[]string{"run", "-allow=+21612345678", "stray"}, 125},
		{[]string{"send", "+21612345678"}, 125},
		{[]string{"delete", "x"}, 125},
		{[]string{"ir-print", "nope:1"}, 125},
		{[]string{"sim", "-personality", "nokia"}, 125},
		{[]string{"status", "-modem", "ftp://127.0.0.1"}, 125},
		// Runtime: nothing listens on loopback port 1.
		{[]string{"status", "-modem", "http://127.0.0.1:1", "-timeout", "2s"}, 1},
	}
	for _, tt := range tests {
		err := run(tt.args, strings.NewReader(""), io.Discard, io.Discard)
		if got := exitCode(err); got != tt.want {
			t.Errorf("%v: exit %d (%v), want %d", tt.args, got, err, tt.want)
		}
	}
	// What serve returns when the loop stalls without a hardware watchdog.
	if got := exitCode(fmt.Errorf("%w for 3m0s", errStalled)); got != 1 {
		t.Errorf("a stall exits %d, want 1 (a restart)", got)
	}
}

// TestExitStatusOfTheBinary checks what gokrazy and systemd see: the
// process status of the built command.
func TestExitStatusOfTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := filepath.Join(t.TempDir(), "smsgate")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tests := []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"help"}, 0, ""},
		{[]string{"-watchdog="}, 125, "smsgate: no -allow numbers"},
		{[]string{"-allow=+21612345678", "-led=ACT", "-ir=/dev/lirc0"}, 125, "-ir and -ir-code go together"},
		{[]string{"status", "-modem", "http://127.0.0.1:1", "-timeout", "2s"}, 1, "smsgate: "},
	}
	for _, tt := range tests {
		cmd := exec.Command(bin, tt.args...)
		cmd.Env = append(os.Environ(), "SMSGATE_PASSWORD=", "SMSGATE_PIN=")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		status := 0
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			status = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if status != tt.status || !strings.Contains(stderr.String(), tt.stderr) {
			t.Errorf("smsgate %v: status %d, stderr %q; want %d and %q", tt.args, status, stderr.String(), tt.status, tt.stderr)
		}
	}
}

// TestOnlyMainMakesTheSystemRebooter: the machine's rebooter is made in
// main alone, which no test calls; everything else, tests included, is
// handed a rebooter. So no test can reboot the machine running it.
func TestOnlyMainMakesTheSystemRebooter(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	real := map[string]bool{"newSystemRebooter": true, "systemRebooter": true, "rebootNow": true, "signalInit": true}
	fromMain := 0
	for _, name := range files {
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(name, "reboot") && !strings.HasSuffix(name, "_test.go") {
			continue // where it lives
		}
		for _, d := range f.Decls {
			ast.Inspect(d, func(n ast.Node) bool {
				if id, ok := n.(*ast.Ident); ok && real[id.Name] {
					if fn, ok := d.(*ast.FuncDecl); ok && name == "main.go" && fn.Recv == nil && fn.Name.Name == "main" {
						fromMain++
					} else {
						t.Errorf("%s: %s reaches the machine's rebooter", name, id.Name)
					}
				}
				return true
			})
		}
	}
	if fromMain == 0 {
		t.Error("main does not make the system rebooter: this test looks for the wrong names")
	}
}

// Where a part of the hardware does not exist (another OS, or no such
// device), opening it fails with an error wrapping os.ErrNotExist, which
// the daemon logs before running without it.
func TestMissingHardwareIsNotExist(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	if _, err := OpenWatchdog(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("watchdog: %v", err)
	}
	if _, err := openLIRC(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LIRC: %v", err)
	}
	if _, err := openOnboardLED("NO_SUCH_LED"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("onboard LED: %v", err)
	}
}

// orderRebooter records, when asked to reboot, what had happened before.
type orderRebooter struct{ events *[]string }

func (r orderRebooter) Reboot(context.Context) error {
	*r.events = append(*r.events, "reboot")
	return nil
}

// The LED and IR pins are given back before the machine goes down, and
// not at all in a dry run.
func TestRebootReleasesThePinsFirst(t *testing.T) {
	byCommand := func(t *testing.T, a *Actions) error {
		_, after, err := a.Run(context.Background(), Command{Name: "reboot"})
		if err != nil || after == nil {
			t.Fatalf("reboot: %v", err)
		}
		return after()
	}
	byHealing := func(t *testing.T, a *Actions) error {
		log := slog.New(slog.DiscardHandler)
		g, err := NewGateway(gatewayConfigIn(t, t.TempDir()), nil, a, nil, log)
		if err != nil {
			t.Fatal(err)
		}
		return gatewayHeal{g}.RebootPi(context.Background())
	}
	for _, path := range []struct {
		name   string
		reboot func(*testing.T, *Actions) error
	}{{"command", byCommand}, {"healing", byHealing}} {
		for _, dryRun := range []bool{false, true} {
			var events []string
			a := &Actions{reboot: orderRebooter{&events}, dryRun: dryRun, log: slog.New(slog.DiscardHandler),
				host: fakeHost{time.Hour}, release: func() { events = append(events, "release") }}
			if err := path.reboot(t, a); err != nil {
				t.Fatal(err)
			}
			want := "release reboot"
			if dryRun {
				want = ""
			}
			if got := strings.Join(events, " "); got != want {
				t.Errorf("%s, dry run %v: %q, want %q", path.name, dryRun, got, want)
			}
		}
	}
}
