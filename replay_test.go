package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// captureOf runs doctor -capture against sim and returns the file and what
// the client detected.
func captureOf(t *testing.T, sim *Sim, password, user string) (string, Detection, string) {
	t.Helper()
	d, out := doctorFor(t, sim.URL, password)
	d.cfg.modem.user = user
	d.cfg.sendTest = "+21699887766"
	d.statusEvery = 10 * time.Millisecond
	d.cfg.capture = filepath.Join(t.TempDir(), "capture.json")
	if err := d.run(context.Background()); err != nil {
		t.Fatalf("doctor: %v\n%s", err, out)
	}
	return d.cfg.capture, d.detected, out.String()
}

func startReplay(t *testing.T, file, password string) (*Sim, *replaySpec) {
	t.Helper()
	spec, err := loadReplay(file)
	if err != nil {
		t.Fatal(err)
	}
	sim := newReplaySim(spec, password)
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim, spec
}

// Capture from each personality, replay, and run the real client against
// the replay: it must detect the same firmware, and the replay must play
// the traits the capture shows.
func TestCaptureThenReplayEveryPersonality(t *testing.T) {
	for _, name := range simPersonalityNames() {
		t.Run(name, func(t *testing.T) {
			orig := simPersonalities[name]
			user := ""
			if orig.userForm != "" {
				user = "admin"
			}
			simA := startDoctorSim(t, name, "s3cret")
			simA.Deliver("+21612345678", "status", time.Now().Add(-time.Minute))
			simA.DeliverSIM("TELKOMSEL", "Balance 5$", time.Now())
			simA.DeliverIncomplete("+3312345678", strings.Repeat("part ", 60), time.Now())
			file, detA, outA := captureOf(t, simA, "s3cret", user)

			simB, spec := startReplay(t, file, "s3cret")
			_, detB, outB := captureOf(t, simB, "s3cret", user)

			for _, f := range []struct{ what, a, b string }{
				{"model", detA.Model, detB.Model},
				{"firmware", detA.Firmware, detB.Firmware},
				{"cr_version", detA.CRVersion, detB.CRVersion},
				{"login scheme", detA.Login, detB.Login},
				{"login form", detA.LoginForm, detB.LoginForm},
				{"config.js", detA.ConfigJS, detB.ConfigJS},
				{"AD form", detA.AD, detB.AD},
			} {
				if f.a != f.b {
					t.Errorf("%s: %q from %s, %q from its replay", f.what, f.a, name, f.b)
				}
			}
			if !detB.ADConfirmed {
				t.Errorf("the replay's AD form was not confirmed")
			}
			// The personality traits the capture shows.
			got := spec.p
			for _, f := range []struct {
				what string
				a, b any
			}{
				{"noLogin", orig.noLogin, got.noLogin},
				{"cookie", orig.cookie, got.cookie},
				{"servesLD", orig.servesLD, got.servesLD},
				{"noNVUsed", orig.noNVUsed, got.noNVUsed},
				{"dupIDs", orig.dupIDs, got.dupIDs},
				{"connected", orig.connected, got.connected},
				{"userForm", orig.userForm, got.userForm},
				{"ad", orig.ad, got.ad},
			} {
				if f.a != f.b {
					t.Errorf("%s: %v in %s, %v in its replay", f.what, f.a, name, f.b)
				}
			}
			if !orig.noLogin && orig.scheme != got.scheme {
				t.Errorf("password scheme %d, replayed %d", orig.scheme, got.scheme)
			}
			// Same inbox, by the lines doctor printed.
			for _, check := range []string{"inbox", "capacity", "data", "login", "scheme"} {
				a, b := line(outA, check), line(outB, check)
				if check == "capacity" || check == "inbox" {
					// The test SMS doctor sent is not in the inbox; the
					// replayed inbox is the one listed.
					if a != b {
						t.Errorf("%s:\n  %s\n  %s (replay)", check, a, b)
					}
				} else if strings.Fields(a)[0] != strings.Fields(b)[0] {
					t.Errorf("%s:\n  %s\n  %s (replay)", check, a, b)
				}
			}
			if r := simB.Record(); len(r.Sent) != 1 {
				t.Errorf("the client sent %d SMS through the replay, want 1", len(r.Sent))
			}
		})
	}
}

// A replayed modem refuses what the captured one refused: a wrong password
// is wrong there too, and spends one attempt.
func TestReplayRefusesAWrongPassword(t *testing.T) {
	simA := startDoctorSim(t, "mf297d", "s3cret")
	file, _, _ := captureOf(t, simA, "s3cret", "admin")
	simB, _ := startReplay(t, file, "s3cret")
	d, out := doctorFor(t, simB.URL, "wrong")
	d.cfg.modem.user = "admin"
	if err := d.run(context.Background()); err == nil {
		t.Fatalf("wrong password accepted by the replay\n%s", out)
	}
	if n := len(simB.Record().Logins); n != 1 {
		t.Errorf("%d logins against the replay", n)
	}
}

func TestReplayCommandLine(t *testing.T) {
	simA := startDoctorSim(t, "mc801a", "s3cret")
	file, _, _ := captureOf(t, simA, "s3cret", "admin")
	var out bytes.Buffer
	if err := run([]string{"sim", "-replay", filepath.Join(t.TempDir(), "missing.json")}, nil, &out, &out); err == nil {
		t.Error("sim -replay of a missing file started")
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"format":"something else"}`), 0o600)
	if err := run([]string{"sim", "-replay", bad}, nil, &out, &out); err == nil || !strings.Contains(err.Error(), "format") {
		t.Errorf("sim -replay of another format: %v", err)
	}
	spec, err := loadReplay(file)
	if err != nil {
		t.Fatal(err)
	}
	if spec.p.model != "MC801A" || spec.p.cookie != "stok" || spec.p.userForm != "username" {
		t.Errorf("replay of mc801a: %+v", spec.p)
	}
}

// What a capture shows of the firmware's quirks, the replay plays.
func TestReplayQuirks(t *testing.T) {
	get := func(cmd, body string, kind string) Exchange {
		e := Exchange{Method: "GET", Path: "/goform/goform_get_cmd_process", Query: map[string]string{"cmd": cmd, "multi_data": "1"}, Status: 200, Kind: kind}
		if body != "" {
			e.Body = []byte(body)
		}
		return e
	}
	login := func(res string) Exchange {
		return Exchange{Method: "POST", Path: "/goform/goform_set_cmd_process", Status: 200, Kind: "json",
			Form:   map[string]string{"goformId": "LOGIN", "password": "<redacted:sha256-upper>", "username": "<redacted>"},
			Header: map[string]string{"Set-Cookie": "zsidn"}, Body: []byte(`{"result":"` + res + `"}`)}
	}
	c := &Capture{Format: captureFormat, Detected: map[string]string{"login": schemeSHA256LD, "wa_inner_version": "BD_X"},
		Exchanges: []Exchange{
			get("loginfo,psw_fail_num_str", `{"loginfo":"","psw_fail_num_str":"5"}`, "json"),
			{Method: "GET", Path: "/goform/goform_get_cmd_process", Query: map[string]string{"cmd": "RD"}, Kind: "json", Body: []byte(`{"RD":""}`)},
			login("3"),
			get("loginfo,psw_fail_num_str", `{"loginfo":"","psw_fail_num_str":"5"}`, "json"),
			login("0"),
			{Method: "GET", Path: "/goform/goform_get_cmd_process", Query: map[string]string{"cmd": "RD"}, Kind: "json", Body: []byte(`{"RD":"AB12CD34"}`)},
			{Method: "POST", Path: "/goform/goform_set_cmd_process", Form: map[string]string{"goformId": "SET_MSG_READ", "AD": strings.Repeat("ab", 32)}, Kind: "json", Body: []byte(`{"result":"success"}`)},
			{Method: "POST", Path: "/goform/goform_set_cmd_process", Form: map[string]string{"goformId": "DELETE_SMS"}, Kind: "empty"},
			get("sms_unread_num,network_provider,sms_received_flag,wan_ipaddr,imei", `{"sms_unread_num":"0","network_provider":"","sms_received_flag":"","wan_ipaddr":"<redacted>","imei":"<redacted>"}`, "json"),
			get("sms_unread_num", "", "html"),
			{Method: "GET", Path: "/goform/goform_get_cmd_process", Query: map[string]string{"cmd": "sms_capacity_info"}, Kind: "json-repaired",
				Body: []byte(`{"sms_nv_total":"50","sms_nv_rev_total":"1"}`)},
			{Method: "GET", Path: "/goform/goform_get_cmd_process", Query: map[string]string{"cmd": "sms_data_total", "mem_store": "1"}, Kind: "json",
				Body: []byte(`{"messages":[{"id":"7","number":"<number:hex>","content":"<text>","tag":"0","date":"26,03,14,12,00,00,+4"},{"id":"7","number":"<number:hex>","content":"<text>","tag":"0"}]}`)},
		}}
	r := replayFromCapture(c)
	p := r.p
	for _, f := range []struct {
		what string
		got  any
		want any
	}{
		{"scheme", p.scheme, 2}, {"userForm", p.userForm, "username"}, {"cookie", p.cookie, "zsidn"},
		{"stuckAttempts", p.stuckAttempts, true}, {"rdNeedsSession", p.rdNeedsSession, true},
		{"ad", p.ad, adSHA256Lower}, {"emptyRefuse", p.emptyRefuse, true}, {"expiry", p.expiry, "html"},
		{"noNVUsed", p.noNVUsed, true}, {"capacity", r.capacity, 50}, {"dupIDs", p.dupIDs, true},
		{"hex numbers", r.faults.HexNumbers, true}, {"malformed", r.faults.Malformed, true},
		{"blank in session", p.keys["network_provider"], ""}, {"received flag", p.keys["sms_received_flag"], ""},
		{"address", p.keys["wan_ipaddr"], nil}, {"imei", p.keys["imei"], "redacted"}, {"messages", len(r.msgs), 1},
	} {
		if f.want == nil {
			if _, ok := p.keys["wan_ipaddr"]; ok {
				t.Errorf("%s: the dynamic wan_ipaddr was frozen", f.what)
			}
			continue
		}
		if f.got != f.want {
			t.Errorf("%s: %v, want %v", f.what, f.got, f.want)
		}
	}
	// A counter that goes down is not stuck, though it is back at 5 after
	// the login that worked.
	c2 := *c
	c2.Exchanges = append([]Exchange(nil), c.Exchanges...)
	c2.Exchanges[3] = get("loginfo,psw_fail_num_str", `{"loginfo":"","psw_fail_num_str":"4"}`, "json")
	c2.Exchanges = append(c2.Exchanges, get("psw_fail_num_str", `{"psw_fail_num_str":"5"}`, "json"))
	if r := replayFromCapture(&c2); r.p.stuckAttempts {
		t.Error("a counting modem replayed as stuck")
	}
	// Redirects are the other way firmware says "log in first".
	c.Exchanges = append(c.Exchanges[:9:9], Exchange{Method: "GET", Path: "/goform/goform_get_cmd_process", Status: 302, Kind: "empty",
		Header: map[string]string{"Location": "/index.html"}})
	if r := replayFromCapture(c); r.p.expiry != "redirect" {
		t.Errorf("expiry %q after a redirect, want redirect", r.p.expiry)
	}
}

// A modem with defects (senders as hex, doubled quotes and control
// characters) is replayed with them, and the client still reads its inbox.
func TestReplayOfADefectiveModem(t *testing.T) {
	simA := startDoctorSim(t, "mf920v", "s3cret")
	simA.SetFaults(func(f *SimFaults) { f.HexNumbers, f.Malformed = true, true })
	simA.Deliver("+21612345678", "status", time.Now())
	simA.Deliver("+21612345679", "ping", time.Now())
	file, _, _ := captureOf(t, simA, "s3cret", "")
	simB, spec := startReplay(t, file, "s3cret")
	if !spec.faults.HexNumbers || !spec.faults.Malformed {
		t.Errorf("replay faults %+v, want hex numbers and malformed JSON", spec.faults)
	}
	m, err := NewModem(ModemConfig{URL: simB.URL, Password: "s3cret", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := m.Inbox(context.Background())
	if err != nil || len(msgs) != 2 || msgs[0].From != "+15550100001" || msgs[0].Text != "replayed message 1" {
		t.Errorf("inbox of the replay: %+v, %v", msgs, err)
	}
}

// A dead modem still gives a capture: the error, scrubbed.
func TestCaptureOfADeadModem(t *testing.T) {
	d, out := doctorFor(t, "http://127.0.0.1:1", "s3cret")
	d.cfg.capture = filepath.Join(t.TempDir(), "capture.json")
	if err := d.run(context.Background()); err == nil {
		t.Fatalf("doctor passed\n%s", out)
	}
	b, err := os.ReadFile(d.cfg.capture)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ReadCapture(b)
	if err != nil || len(c.Exchanges) != 1 || c.Exchanges[0].Kind != "error" || strings.Contains(string(b), "127.0.0.1") {
		t.Errorf("capture of a dead modem: %v\n%s", err, b)
	}
}

func TestReplayKeepsTheCapturedCapacity(t *testing.T) {
	r := &replaySpec{capacity: 50}
	for _, tc := range []struct {
		args []string
		r    *replaySpec
		want int
	}{
		{nil, r, 50}, {[]string{"-capacity", "20"}, r, 20}, {nil, nil, 100}, {nil, &replaySpec{}, 100},
	} {
		fs := flag.NewFlagSet("sim", flag.ContinueOnError)
		c := fs.Int("capacity", 100, "")
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if got := simCapacity(fs, *c, tc.r); got != tc.want {
			t.Errorf("%v with capture capacity %v: %d, want %d", tc.args, tc.r, got, tc.want)
		}
	}
}
