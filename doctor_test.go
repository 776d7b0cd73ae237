package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// doctorFor returns a doctor for the modem at url whose host checks touch
// only temporary directories and fakes.
func doctorFor(t *testing.T, url, password string) (*doctor, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	c := doctorConfig{
		modem:    modemFlags{url: url, password: password, timeout: 2 * time.Second},
		allow:    listFlag{"+21612345678"},
		watchdog: "",
	}
	d := newDoctor(c, &out)
	d.cfg.modem.password = password // not from the environment
	d.host = hostEnv{sysRoot: t.TempDir(), now: time.Now, blink: time.Millisecond, sleep: time.Sleep,
		openLED: func(string, bool) (ledOutput, error) { return nil, os.ErrNotExist },
		openIR:  func(string) (irTransmitter, error) { return nil, os.ErrNotExist }}
	return d, &out
}

// line returns doctor's line for the named check.
func line(out, name string) string {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[1] == name {
			return l
		}
	}
	return ""
}

func startDoctorSim(t *testing.T, personality, password string) *Sim {
	t.Helper()
	sim, err := NewSim(personality, password)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim
}

func TestDoctorAgainstEveryPersonality(t *testing.T) {
	for _, p := range simPersonalityNames() {
		t.Run(p, func(t *testing.T) {
			sim := startDoctorSim(t, p, "s3cret")
			sim.Deliver("+21612345678", "status", time.Now())
			d, out := doctorFor(t, sim.URL, "s3cret")
			d.cfg.sendTest = "+21699887766"
			d.statusEvery = 10 * time.Millisecond
			if err := d.run(context.Background()); err != nil {
				t.Fatalf("doctor failed: %v\n%s", err, out)
			}
			for _, name := range []string{"modem", "firmware", "login", "scheme", "inbox", "capacity", "counters", "data", "signal", "send", "ad"} {
				if l := line(out.String(), name); !strings.HasPrefix(l, "ok") {
					t.Errorf("check %s: %q\n%s", name, l, out)
				}
			}
			if l := line(out.String(), "firmware"); !strings.Contains(l, "hardware_version "+simPersonalities[p].model) {
				t.Errorf("firmware line %q", l)
			}
			if l := line(out.String(), "inbox"); !strings.Contains(l, "1 received message(s): 1 unread") {
				t.Errorf("inbox line %q", l)
			}
			r := sim.Record()
			if len(r.Sent) != 1 || r.Sent[0].Number != "+21699887766" {
				t.Errorf("sent %+v", r.Sent)
			}
			for _, l := range r.Logins {
				if l.Result != "0" {
					t.Errorf("a login was refused: %+v", r.Logins)
				}
			}
		})
	}
}

func TestDoctorWrongPasswordSpendsAtMostOneAttempt(t *testing.T) {
	for _, p := range simPersonalityNames() {
		if simPersonalities[p].noLogin {
			continue
		}
		t.Run(p, func(t *testing.T) {
			sim := startDoctorSim(t, p, "s3cret")
			d, out := doctorFor(t, sim.URL, "wrong-password")
			if err := d.run(context.Background()); err == nil {
				t.Fatalf("doctor passed with a wrong password\n%s", out)
			}
			if n := len(sim.Record().Logins); n != 1 {
				t.Errorf("the modem saw %d login attempts, want 1", n)
			}
			l := line(out.String(), "login")
			left := "4 attempts left now"
			if simPersonalities[p].stuckAttempts {
				left = "5 attempts left now (the modem's count did not go down"
			}
			if !strings.HasPrefix(l, "FAIL") || !strings.Contains(l, "1 refused") || !strings.Contains(l, left) {
				t.Errorf("login line %q\n%s", l, out)
			}
			if !strings.Contains(out.String(), "fix: set SMSGATE_PASSWORD") {
				t.Errorf("no fix given\n%s", out)
			}
			if l := line(out.String(), "inbox"); !strings.HasPrefix(l, "--") {
				t.Errorf("inbox checked without a session: %q", l)
			}
		})
	}
}

// A client that would try a second password scheme after a refusal must
// not get to spend a second attempt in a doctor run.
func TestRecorderHoldsASecondLogin(t *testing.T) {
	sim := startDoctorSim(t, "mc888", "s3cret")
	m, err := NewModem(ModemConfig{URL: sim.URL, Password: "wrong", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(m.web, false)
	m.web = rec
	ctx := context.Background()
	if err := m.Login(ctx); err == nil {
		t.Fatal("wrong password logged in")
	}
	m.loginHold = nil // as a client that tries again at once would
	if err := m.Login(ctx); err == nil {
		t.Fatal("wrong password logged in")
	}
	results, blocked := rec.Logins()
	if n := len(sim.Record().Logins); n != 1 || blocked != 1 || len(results) != 1 {
		t.Errorf("modem saw %d logins, recorder sent %v and held %d; want 1 sent, 1 held", n, results, blocked)
	}
}

func TestDoctorKeepsTheLastTwoAttempts(t *testing.T) {
	sim := startDoctorSim(t, "mf920v", "s3cret")
	sim.mu.Lock()
	sim.failLeft = 2
	sim.mu.Unlock()
	d, out := doctorFor(t, sim.URL, "s3cret")
	if err := d.run(context.Background()); err == nil {
		t.Fatalf("doctor passed\n%s", out)
	}
	if n := len(sim.Record().Logins); n != 0 {
		t.Errorf("doctor spent %d of the last two attempts", n)
	}
	if l := line(out.String(), "attempts"); !strings.HasPrefix(l, "FAIL") || !strings.Contains(l, "only 2 login attempts left") {
		t.Errorf("attempts line %q", l)
	}
}

func TestDoctorDeadModem(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	d, out := doctorFor(t, url, "s3cret")
	if err := d.run(context.Background()); err == nil {
		t.Fatalf("doctor passed against a dead modem\n%s", out)
	}
	l := line(out.String(), "modem")
	if !strings.HasPrefix(l, "FAIL") || !strings.Contains(l, "nothing answers at "+url) {
		t.Errorf("modem line %q", l)
	}
	if !strings.Contains(out.String(), "fix: check -modem") {
		t.Errorf("no fix\n%s", out)
	}
	if !strings.Contains(out.String(), "clock") {
		t.Errorf("host checks not run after the modem failed\n%s", out)
	}
}

func TestDoctorHTMLModem(t *testing.T) {
	sim := startDoctorSim(t, "mf920v", "s3cret")
	sim.SetFaults(func(f *SimFaults) { f.HTML = true })
	d, out := doctorFor(t, sim.URL, "s3cret")
	if err := d.run(context.Background()); err == nil {
		t.Fatalf("doctor passed against an HTML modem\n%s", out)
	}
	if l := line(out.String(), "modem"); !strings.HasPrefix(l, "FAIL") || !strings.Contains(l, "answers an HTML page") {
		t.Errorf("modem line %q", l)
	}
	if n := len(sim.Record().Logins); n != 0 {
		t.Errorf("%d logins against an HTML page", n)
	}
}

func TestDoctorNoSignalFails(t *testing.T) {
	sim := startDoctorSim(t, "mf920v", "s3cret")
	sim.SetLink("ppp_disconnected", "0")
	d, out := doctorFor(t, sim.URL, "s3cret")
	if err := d.run(context.Background()); err == nil {
		t.Fatalf("doctor passed without a network\n%s", out)
	}
	if l := line(out.String(), "signal"); !strings.HasPrefix(l, "FAIL") {
		t.Errorf("signal line %q", l)
	}
	if l := line(out.String(), "data"); !strings.HasPrefix(l, "warn") {
		t.Errorf("data line %q", l)
	}
}

func TestDoctorFlags(t *testing.T) {
	for _, tc := range []struct {
		name  string
		set   func(*doctorConfig)
		check string
		want  string
	}{
		{"no allow", func(c *doctorConfig) { c.allow = nil }, "allow", "no -allow numbers"},
		{"national number", func(c *doctorConfig) { c.allow = listFlag{"012345678"} }, "allow", "not an international number"},
		{"bad country code", func(c *doctorConfig) { c.countryCode = "+216" }, "allow", "not a calling code"},
		{"ir without code", func(c *doctorConfig) { c.ir = "/dev/lirc0" }, "ir", "go together"},
		{"bad ir code", func(c *doctorConfig) { c.ir, c.irCodes = "/dev/lirc0", repeatFlag{"tv=nec:zz"} }, "ir", "scancode must be hex"},
		{"unknown ir-test", func(c *doctorConfig) {
			c.ir, c.irCodes, c.irTest = "/dev/lirc0", repeatFlag{"tv=nec:0x0408"}, "radio"
		}, "ir", "no such -ir-code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim := startDoctorSim(t, "mf920v", "s3cret")
			d, out := doctorFor(t, sim.URL, "s3cret")
			tc.set(&d.cfg)
			if err := d.run(context.Background()); err == nil {
				t.Fatalf("doctor passed\n%s", out)
			}
			if l := line(out.String(), tc.check); !strings.HasPrefix(l, "FAIL") || !strings.Contains(l, tc.want) {
				t.Errorf("%s line %q, want FAIL with %q", tc.check, l, tc.want)
			}
		})
	}
}

func TestDoctorCommandLine(t *testing.T) {
	sim := startDoctorSim(t, "mf286d", "s3cret")
	t.Setenv("SMSGATE_PASSWORD", "s3cret")
	var out bytes.Buffer
	err := run([]string{"doctor", "-modem", sim.URL, "-allow", "+21612345678", "-watchdog", filepath.Join(t.TempDir(), "none")}, nil, &out, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"ok    login", "warn  led", "warn  watchdog", "no failures"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := run([]string{"doctor", "-modem", sim.URL, "-watchdog", ""}, nil, &out, &out); err == nil || !strings.Contains(err.Error(), "1 check(s) failed") {
		t.Errorf("doctor without -allow: %v\n%s", err, out.String())
	}
}

// Without -send-test, the AD form is found by an action that changes
// nothing: marking an already read message read.
func TestDoctorFindsADWithoutSending(t *testing.T) {
	for _, p := range []string{"mf286d", "mc888", "mf920v"} {
		t.Run(p, func(t *testing.T) {
			sim := startDoctorSim(t, p, "s3cret")
			read := sim.Deliver("+21612345678", "old", time.Now())
			sim.Deliver("+21612345678", "new", time.Now())
			sim.mu.Lock()
			for _, m := range sim.msgs {
				if m.id == read {
					m.tag = "0"
				}
			}
			sim.mu.Unlock()
			d, out := doctorFor(t, sim.URL, "s3cret")
			if err := d.run(context.Background()); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			want := map[string]string{"mf286d": "form md5", "mc888": "form sha256", "mf920v": "form none"}[p]
			if l := line(out.String(), "ad"); !strings.HasPrefix(l, "ok") || !strings.Contains(l, want) || !strings.Contains(l, "confirmed by re-marking read message") {
				t.Errorf("ad line %q, want %q confirmed", l, want)
			}
			r := sim.Record()
			if len(r.Sent) != 0 || len(r.Deleted) != 0 {
				t.Errorf("doctor sent %d and deleted %d", len(r.Sent), len(r.Deleted))
			}
			for _, id := range sim.Inbox() {
				if id != read {
					sim.mu.Lock()
					for _, m := range sim.msgs {
						if m.id == id && m.tag != "1" {
							t.Errorf("unread message %d was marked read", id)
						}
					}
					sim.mu.Unlock()
				}
			}
		})
	}
}

// A session already there (the daemon running, a session tied to this
// address) is used, and doctor says the password was not tested.
func TestDoctorAlreadyLoggedIn(t *testing.T) {
	sim := startDoctorSim(t, "mf920v", "s3cret")
	m, err := NewModem(ModemConfig{URL: sim.URL, Password: "s3cret", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	d, out := doctorFor(t, sim.URL, "wrong")
	if err := d.run(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if l := line(out.String(), "login"); !strings.HasPrefix(l, "warn") || !strings.Contains(l, "password was not tested") {
		t.Errorf("login line %q", l)
	}
	if n := len(sim.Record().Logins); n != 1 {
		t.Errorf("%d logins, want only the first client's", n)
	}
}

// An action the modem refuses under every AD form is a warning, and costs
// no login attempt.
func TestDoctorRefusedActionCostsNoAttempt(t *testing.T) {
	sim := startDoctorSim(t, "mf286d", "s3cret")
	read := sim.Deliver("+21612345678", "old", time.Now())
	sim.mu.Lock()
	for _, m := range sim.msgs {
		if m.id == read {
			m.tag = "0"
		}
	}
	sim.mu.Unlock()
	sim.SetFaults(func(f *SimFaults) { f.FailActions = map[string]string{"SET_MSG_READ": "failure"} })
	d, out := doctorFor(t, sim.URL, "s3cret")
	if err := d.run(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if l := line(out.String(), "ad"); !strings.HasPrefix(l, "warn") || !strings.Contains(l, "was refused") {
		t.Errorf("ad line %q", l)
	}
	if n := len(sim.Record().Logins); n != 1 {
		t.Errorf("%d logins, want 1", n)
	}
}

func TestDoctorSIMState(t *testing.T) {
	for state, level := range map[string]string{"modem_waitpin": "FAIL", "modem_sim_undetected": "FAIL", "modem_init": "warn"} {
		t.Run(state, func(t *testing.T) {
			p := simPersonalities["mf920v"]
			p.keys = map[string]string{"modem_main_state": state}
			sim := newSim(p, "s3cret")
			if err := sim.Start("127.0.0.1:0"); err != nil {
				t.Fatal(err)
			}
			defer sim.Close()
			d, out := doctorFor(t, sim.URL, "s3cret")
			err := d.run(context.Background())
			if l := line(out.String(), "sim"); !strings.HasPrefix(l, level) || !strings.Contains(l, state) {
				t.Errorf("sim line %q, want %s", l, level)
			}
			if (level == "FAIL") != (err != nil) {
				t.Errorf("doctor returned %v", err)
			}
		})
	}
}
