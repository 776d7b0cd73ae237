package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAPI is a loopback web server answering as one family's detection
// question does (from ../shared/hilink.md §1-2 and zte-newer.md §2.5), and
// recording every request it got.
type fakeAPI struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []string // "METHOD /path"
}

func startFakeAPI(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) *fakeAPI {
	t.Helper()
	f := &fakeAPI{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.seen = append(f.seen, r.Method+" "+r.URL.Path)
		f.mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

// hilinkAnswer plays a HiLink stick: XML on /api/, the home page (a
// redirect) for anything else.
func hilinkAnswer(sesTok string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "GET" && r.URL.Path == "/api/webserver/SesTokInfo" {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+sesTok)
			return
		}
		http.Redirect(w, r, "/html/index.html", http.StatusFound)
	}
}

func ubusAnswer(w http.ResponseWriter, r *http.Request) {
	if r.Method == "POST" && r.URL.Path == "/ubus/" && r.Header.Get("Origin") != "" && r.Header.Get("Referer") != "" {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `[{"jsonrpc":"2.0","id":1,"result":[0,{"zte_web_sault":"4f2a"}]}]`)
		return
	}
	http.NotFound(w, r)
}

func htmlAnswer(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html")
	fmt.Fprint(w, "<html><body>captive portal</body></html>")
}

func targetFor(t *testing.T, url, typ string) portTarget {
	t.Helper()
	pt, err := parseModemAddress(url, typ, ModemConfig{Password: "pw", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return pt
}

// TestDetectFamily: each family's address is told by its own cheap
// question, without a login and without a write.
func TestDetectFamily(t *testing.T) {
	sim := startDoctorSim(t, "mf920v", "s3cret")
	hilink := startFakeAPI(t, hilinkAnswer(`<response><SesInfo>SessionID=abc</SesInfo><TokInfo>0123456789abcdef0123456789abcdef</TokInfo></response>`))
	hilinkErr := startFakeAPI(t, hilinkAnswer(`<error><code>125002</code><message></message></error>`))
	ubus := startFakeAPI(t, ubusAnswer)
	html := startFakeAPI(t, htmlAnswer)
	for _, tc := range []struct {
		name, url, want string
		probes          int // requests the address got
	}{
		{"zte", sim.URL, familyZTE, 1},
		{"hilink", hilink.srv.URL, familyHiLink, 2},
		{"hilink error", hilinkErr.srv.URL, familyHiLink, 2},
		// A goform path not found (404) is asked once more under /reqproc/,
		// where ZXIC-based dongles answer it.
		{"ubus", ubus.srv.URL, familyUbus, 4},
		{"html", html.srv.URL, "", 3}, // an HTML page is no 404: no /reqproc/ read
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := detectFamily(context.Background(), targetFor(t, tc.url, "auto"), nil)
			if d.family != tc.want {
				t.Errorf("detected %q, want %q (saw %v)", d.family, tc.want, d.saw)
			}
			n := 0
			switch tc.name {
			case "zte":
				r := sim.Record()
				n = r.Requests
				if len(r.Logins) != 0 || len(r.Posts) != 0 {
					t.Errorf("detection logged in or posted: %+v %+v", r.Logins, r.Posts)
				}
			case "hilink", "hilink error":
				f := map[string]*fakeAPI{"hilink": hilink, "hilink error": hilinkErr}[tc.name]
				n = len(f.requests())
				for _, r := range f.requests() {
					if strings.HasPrefix(r, "POST") || strings.Contains(r, "/api/user/") {
						t.Errorf("detection sent %s to a HiLink device", r)
					}
				}
			case "ubus":
				n = len(ubus.requests())
			case "html":
				n = len(html.requests())
			}
			if n != tc.probes {
				t.Errorf("%d requests, want %d", n, tc.probes)
			}
		})
	}
}

// A dead address costs one probe, and says nothing answers there.
func TestDetectDeadAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	d := detectFamily(context.Background(), targetFor(t, url, "auto"), nil)
	if d.family != "" || d.down == nil || len(d.saw) != 1 {
		t.Errorf("dead address: %+v", d)
	}
	var oe *net.OpError
	if !errors.As(d.err(), &oe) {
		t.Errorf("error %v does not say the dial failed", d.err())
	}
	// Forced, the family is opened anyway: the modem may be booting.
	p, err := openTarget(context.Background(), targetFor(t, url, "zte"))
	if err != nil || p.Info().Family != familyZTE {
		t.Errorf("forced zte on a dead address: %v, %v", p, err)
	}
}

// A forced family the address contradicts says what the address answered;
// one it confirms opens.
func TestForcedFamily(t *testing.T) {
	sim := startDoctorSim(t, "mf920v", "s3cret")
	ubus := startFakeAPI(t, ubusAnswer)
	ctx := context.Background()
	_, err := openTarget(ctx, targetFor(t, sim.URL, "hilink"))
	if err == nil || !strings.Contains(err.Error(), "answers as a zte modem (goform JSON") || !strings.Contains(err.Error(), "-modem-type zte") {
		t.Errorf("hilink forced on a ZTE modem: %v", err)
	}
	if exitCode(err) != 125 {
		t.Errorf("exit code %d, want 125 (configuration)", exitCode(err))
	}
	_, err = openTarget(ctx, targetFor(t, ubus.srv.URL, "zte"))
	if err == nil || !strings.Contains(err.Error(), "answers as a ubus modem") {
		t.Errorf("zte forced on a ubus modem: %v", err)
	}
	p, err := openTarget(ctx, targetFor(t, sim.URL, "zte"))
	if err != nil || p.Info().Family != familyZTE {
		t.Fatalf("zte forced on a ZTE modem: %v", err)
	}
	if n := len(sim.Record().Logins); n != 0 {
		t.Errorf("opening cost %d logins", n)
	}
	// A family this build lacks is said so, not mistaken for another.
	if _, ok := portOpeners[familyUbus]; !ok {
		if _, err := openTarget(ctx, targetFor(t, ubus.srv.URL, "auto")); err == nil || !strings.Contains(err.Error(), "not built into") {
			t.Errorf("ubus without its adapter: %v", err)
		}
	}
}

func TestParseModemAddress(t *testing.T) {
	for _, tc := range []struct {
		addr, typ string
		want      portTarget // Config compared by URL only
		err       string
	}{
		{"http://192.168.8.1", "", portTarget{Config: ModemConfig{URL: "http://192.168.8.1"}}, ""},
		{"http://192.168.8.1/html/index.html", "hilink", portTarget{Family: familyHiLink, Config: ModemConfig{URL: "http://192.168.8.1"}}, ""},
		{"http://[::1]:8080/", "auto", portTarget{Config: ModemConfig{URL: "http://[::1]:8080"}}, ""},
		{"serial:/dev/ttyUSB2", "", portTarget{Family: familyAT, Device: "/dev/ttyUSB2"}, ""},
		{"serial:/dev/ttyUSB2?baud=9600", "at", portTarget{Family: familyAT, Device: "/dev/ttyUSB2", Baud: 9600}, ""},
		{"serial:/dev/ttyUSB2", "zte", portTarget{}, "serial line"},
		{"serial:ttyUSB2", "", portTarget{}, "absolute device path"},
		{"serial:/dev/../etc/passwd", "", portTarget{}, "absolute device path"},
		{"serial:/dev/ttyUSB2?baud=fast", "", portTarget{}, "baud"},
		{"serial:/dev/ttyUSB2?parity=odd", "", portTarget{}, "unknown option"},
		{"http://192.168.0.1", "at", portTarget{}, "serial:/dev/ttyUSB2"},
		{"http://192.168.0.1", "huawei", portTarget{}, "want auto"},
		{"https://192.168.0.1", "", portTarget{}, "want http://host"},
		{"http://192.168.0.1/api/", "", portTarget{}, "want http://host"},
		{"http://user:pw@192.168.0.1", "", portTarget{}, "want http://host"},
	} {
		got, err := parseModemAddress(tc.addr, tc.typ, ModemConfig{})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s %s: %v, want an error with %q", tc.addr, tc.typ, err, tc.err)
			}
			continue
		}
		if err != nil || got.Family != tc.want.Family || got.Config.URL != tc.want.Config.URL || got.Device != tc.want.Device || got.Baud != tc.want.Baud {
			t.Errorf("%s %s: %+v, %v; want %+v", tc.addr, tc.typ, got, err, tc.want)
		}
	}
}

// The daemon's port detects on first use and until it succeeds: a modem
// that comes up after smsgate is found then.
func TestDetectingPortWaitsForTheModem(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := newDetectingPort(targetFor(t, "http://"+addr, "auto"), nil)
	ctx := context.Background()
	if _, err := p.Poll(ctx); err == nil || p.Info().Family != "" {
		t.Fatalf("poll of a dead address: %v, family %q", err, p.Info().Family)
	}
	if got := p.Refusals(); got != (LoginRefusals{}) {
		t.Errorf("refusals before detection %+v", got)
	}
	seed := LoginRefusals{Password: passwordFingerprint("pw"), Count: 2}
	if !p.SetRefusals(seed) || p.Refusals() != seed {
		t.Errorf("refusals not kept before detection: %+v", p.Refusals())
	}
	// The modem comes up with another password: the refusals counted
	// before go on counting, not from zero.
	sim := newSim(simPersonalities["mf920v"], "other")
	if err := sim.Start(addr); err != nil {
		t.Skipf("the port was taken again: %v", err)
	}
	defer sim.Close()
	_, err = p.Poll(ctx)
	var le *LoginError
	if !errors.As(err, &le) {
		t.Fatalf("poll with a wrong password once the modem is up: %v", err)
	}
	if p.Info().Family != familyZTE || p.Refusals().Count < seed.Count {
		t.Errorf("after detection: %+v, refusals %+v", p.Info(), p.Refusals())
	}
}

func TestProbeAnswers(t *testing.T) {
	for _, tc := range []struct {
		body   string
		hilink bool
		ubus   bool
	}{
		{`<response><SesInfo>SessionID=x</SesInfo><TokInfo>t</TokInfo></response>`, true, false},
		{`<?xml version="1.0"?><response><TokInfo>t</TokInfo></response>`, true, false},
		{`<error><code>100002</code></error>`, true, false},
		{`<response><foo/></response>`, false, false},
		{`<html><body>x</body></html>`, false, false},
		{`{"loginfo":""}`, false, false},
		{`[{"jsonrpc":"2.0","id":1,"result":[0,{}]}]`, false, true},
		{`{"jsonrpc":"2.0","id":1,"error":{"code":-32000}}`, false, true},
		{`[{"jsonrpc":"1.0","result":[0]}]`, false, false},
		{``, false, false},
	} {
		if got, _ := hilinkProbeAnswer([]byte(tc.body)); got != tc.hilink {
			t.Errorf("hilink %q: %v", tc.body, got)
		}
		if got, _ := ubusProbeAnswer([]byte(tc.body)); got != tc.ubus {
			t.Errorf("ubus %q: %v", tc.body, got)
		}
	}
}

// FuzzProbeAnswers: the probes read whatever an address answers; no answer
// is both families', and none makes them fail.
func FuzzProbeAnswers(f *testing.F) {
	for _, s := range []string{`<response><SesInfo>a</SesInfo></response>`, `<error><code>1</code></error>`,
		`[{"jsonrpc":"2.0","result":[0]}]`, `{"jsonrpc":"2.0","error":{}}`, `<html>`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, hs := hilinkProbeAnswer(b)
		u, us := ubusProbeAnswer(b)
		if h && u {
			t.Errorf("%q is both HiLink (%s) and ubus (%s)", b, hs, us)
		}
		if hs == "" || us == "" {
			t.Errorf("%q: a probe said nothing of what it saw", b)
		}
	})
}

// The one-shot commands go through the same addressing: status says the
// family, a contradicted -modem-type is a configuration error.
func TestOneShotAddressing(t *testing.T) {
	sim := startDoctorSim(t, "mf920v", "s3cret")
	var out, errb strings.Builder
	if err := runOneShot("status", []string{"-modem", sim.URL, "-password", "s3cret", "-timeout", "2s"}, &out, &errb); err != nil {
		t.Fatalf("status: %v\n%s", err, errb.String())
	}
	for _, want := range []string{"family       zte goform", "network      LTE", "signal       4/5 -95 dBm", "data         up ", "sms storage  0/100"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in\n%s", want, out.String())
		}
	}
	logins := len(sim.Record().Logins)
	err := runOneShot("list", []string{"-modem", sim.URL, "-modem-type", "hilink", "-password", "s3cret"}, &out, &errb)
	if exitCode(err) != 125 || !strings.Contains(err.Error(), "answers as a zte modem") {
		t.Errorf("list -modem-type hilink on a ZTE modem: %v (exit %d)", err, exitCode(err))
	}
	if n := len(sim.Record().Logins); n != logins {
		t.Errorf("the refused -modem-type cost %d logins", n-logins)
	}
	if err := runOneShot("status", []string{"-modem", "serial:dev/ttyUSB2"}, &out, &errb); exitCode(err) != 125 {
		t.Errorf("a relative serial path: %v", err)
	}
}

// The daemon's port is a detectingPort: what the owner's features ask of
// the adapter (USSD, a login hold for pause, a logout) must reach the
// adapter behind it once the family is known (a wrapper that hid them made
// `ussd` and `pause` answer "not on this modem" in the daemon only).
func TestDetectingPortPassesOptionalFeatures(t *testing.T) {
	sim, err := NewSim("mf920v", "pw")
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	d := newDetectingPort(portTarget{Config: ModemConfig{URL: sim.URL, Password: "pw", Timeout: 2 * time.Second}}, nil)
	if ussdOf(d) != nil {
		t.Error("USSD offered before the family is known")
	}
	if _, err := d.get(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ussdOf(d) == nil {
		t.Error("a detected ZTE modem's USSD is hidden by the daemon's port")
	}
	if _, ok := adapterOf(d).(loginHolder); !ok {
		t.Error("a detected ZTE modem's login hold (pause) is hidden by the daemon's port")
	}
}
