package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// readmeInstall is what README's install examples give the daemon: flags
// and environment.
type readmeInstall struct {
	name  string
	flags []string
	env   map[string]string
}

var (
	readmeGokrazyFlags = regexp.MustCompile(`(?s)"CommandLineFlags": (\[[^\]]*\])`)
	readmeGokrazyEnv   = regexp.MustCompile(`(?s)"Environment": (\[[^\]]*\])`)
	readmeExecStart    = regexp.MustCompile(`(?m)^ExecStart=/usr/bin/smsgate (.*) \$SMSGATE_FLAGS$`)
	readmeDefaultVar   = regexp.MustCompile(`(?m)^(SMSGATE_[A-Z]+)="([^"]*)"$`)
)

// readmeInstalls reads the gokrazy and Raspberry Pi OS examples of
// README.md.
func readmeInstalls(t *testing.T) []readmeInstall {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	gok := readmeInstall{name: "gokrazy", env: map[string]string{}}
	var env []string
	fm, em := readmeGokrazyFlags.FindStringSubmatch(readme), readmeGokrazyEnv.FindStringSubmatch(readme)
	if fm == nil || em == nil {
		t.Fatal("README's gokrazy config.json not found")
	}
	if err := json.Unmarshal([]byte(fm[1]), &gok.flags); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(em[1]), &env); err != nil {
		t.Fatal(err)
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		gok.env[k] = v
	}
	pi := readmeInstall{name: "pi os", env: map[string]string{}}
	es := readmeExecStart.FindStringSubmatch(readme)
	if es == nil {
		t.Fatal("README's ExecStart not found")
	}
	pi.flags = strings.Fields(es[1])
	for _, m := range readmeDefaultVar.FindAllStringSubmatch(readme, -1) {
		if m[1] == "SMSGATE_FLAGS" {
			pi.flags = append(pi.flags, strings.Fields(m[2])...)
		} else {
			pi.env[m[1]] = m[2]
		}
	}
	if len(gok.flags) < 5 || len(pi.flags) < 5 || gok.env["SMSGATE_PASSWORD"] == "" || pi.env["SMSGATE_PASSWORD"] == "" {
		t.Fatalf("README's examples read as %+v %+v", gok, pi)
	}
	return []readmeInstall{gok, pi}
}

// TestDoctorTakesTheDaemonsFlags: README's install examples, flags and
// environment as they are, pass through doctor against a simulated modem
// on loopback (-modem added), and doctor says the daemon accepts them.
func TestDoctorTakesTheDaemonsFlags(t *testing.T) {
	for _, in := range readmeInstalls(t) {
		t.Run(in.name, func(t *testing.T) {
			for k, v := range in.env {
				t.Setenv(k, v)
			}
			sim := startDoctorSim(t, "mf920v", in.env["SMSGATE_PASSWORD"])
			var stderr bytes.Buffer
			args := append(slices.Clone(in.flags), "-modem", sim.URL)
			c, err := parseDoctorArgs(args, &stderr, func() string { return "" })
			if err != nil {
				t.Fatalf("doctor %q: %v\n%s", args, err, stderr.String())
			}
			fake, _ := doctorFor(t, sim.URL, "")
			var out bytes.Buffer
			d := newDoctor(c, &out) // the password from SMSGATE_PASSWORD, as runDoctor
			d.host = fake.host      // no LED, no IR: those warn, the rest counts
			d.statusEvery = 10 * time.Millisecond
			if err := d.run(context.Background()); err != nil {
				t.Errorf("doctor: %v\n%s", err, out.String())
			}
			s := out.String()
			if l := line(s, "flags"); !strings.HasPrefix(l, "ok    flags      the daemon accepts these flags") {
				t.Errorf("flags line %q\n%s", l, s)
			}
			for _, name := range []string{"allow", "login", "inbox"} {
				if l := line(s, name); !strings.HasPrefix(l, "ok ") {
					t.Errorf("%s line %q\n%s", name, l, s)
				}
			}
		})
	}
}

// TestDoctorSaysWhatTheDaemonRefuses: a daemon flag or an environment
// value the daemon would refuse is a doctor FAIL in the daemon's words.
func TestDoctorSaysWhatTheDaemonRefuses(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"-log-format", "xml"}, nil, `-log-format "xml": want text or json`},
		{[]string{"-rate", "0"}, nil, "-rate"},
		{[]string{"-totp"}, map[string]string{"SMSGATE_TOTP": "not base32!"}, "-totp: "},
		{[]string{"-totp"}, map[string]string{"SMSGATE_TOTP": "JBSWY3DPEHPK3PXP", "SMSGATE_PIN": "4711"}, "-totp and a PIN"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			for _, k := range []string{"SMSGATE_PASSWORD", "SMSGATE_PIN", "SMSGATE_TOTP"} {
				t.Setenv(k, c.env[k])
			}
			args := append([]string{"-allow", "+21612345678", "-modem", "http://127.0.0.1:9"}, c.args...)
			cfg, err := parseDoctorArgs(args, &bytes.Buffer{}, func() string { return "" })
			if err != nil {
				t.Fatal(err)
			}
			d, out := doctorFor(t, "http://127.0.0.1:9", "")
			d.cfg = cfg
			d.checkDaemonFlags()
			if !strings.Contains(out.String(), "FAIL  flags") || !strings.Contains(out.String(), c.want) {
				t.Errorf("doctor said\n%s\nwant a FAIL flags line with %q", out, c.want)
			}
		})
	}
}

// TestDoctorListsEveryDaemonFlag: `smsgate doctor -h` lists every flag
// `smsgate run -h` does, and doctor's own.
func TestDoctorListsEveryDaemonFlag(t *testing.T) {
	doctor := flagsOf(t, "doctor")
	for _, f := range append(flagsOf(t, "run"), "capture", "send-test", "ir-test") {
		if !slices.Contains(doctor, f) {
			t.Errorf("smsgate doctor -h lacks -%s", f)
		}
	}
}
