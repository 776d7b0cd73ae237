package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// ubusIdentities are what the test's proxy adds to the device's answers,
// as a firmware that says more than the notes know might: none may reach
// a capture.
var ubusIdentities = map[string]string{"imei": capIMEI, "imsi": "001010123456789", "sim_iccid": "8901010123456789012",
	"msisdn": "+21698765432", "wan_ipaddr": "10.11.12.13", "lan_ipaddr": "192.168.0.1"}

// ubusWire sits between doctor and the ubus simulator: it keeps every
// request and answer body as they went over the wire, and adds the
// identities above to the answers of web_login_info and the capacity.
type ubusWire struct {
	target string
	mu     sync.Mutex
	sent   [][]byte
	got    [][]byte
}

func (w *ubusWire) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, _ := http.NewRequest(r.Method, w.target+r.URL.RequestURI(), bytes.NewReader(body))
	for k, v := range r.Header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	ans, _ := io.ReadAll(resp.Body)
	if bytes.Contains(body, []byte(`"web_login_info"`)) || bytes.Contains(body, []byte(`"zwrt_wms_get_wms_capacity"`)) {
		extra := ""
		for k, v := range ubusIdentities {
			extra += `"` + k + `":"` + v + `",`
		}
		ans = bytes.Replace(ans, []byte(`"result":[0,{`), []byte(`"result":[0,{`+extra), 1)
	}
	w.mu.Lock()
	w.sent, w.got = append(w.sent, body), append(w.got, ans)
	w.mu.Unlock()
	rw.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	rw.WriteHeader(resp.StatusCode)
	rw.Write(ans)
}

// secrets are every value of the wire that a capture must not hold: the
// session ids, the salts, the salted password, the wrapped key, the PEM's
// key, the envelopes, and plain numbers and texts.
func (w *ubusWire) secrets(t *testing.T) map[string]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]string{}
	add := func(what, v string) {
		if v != "" && v != ubusAnon {
			out[v] = what
		}
	}
	for _, b := range w.sent {
		var calls []struct {
			Params []json.RawMessage `json:"params"`
		}
		if json.Unmarshal(b, &calls) != nil {
			continue
		}
		for _, c := range calls {
			var session string
			var args map[string]string
			json.Unmarshal(c.Params[0], &session)
			json.Unmarshal(c.Params[3], &args) // the string arguments only
			add("session id sent", session)
			for _, k := range []string{"password", "web_enstr", "number", "message_body"} {
				add(k+" sent", args[k])
			}
		}
	}
	for _, b := range w.got {
		for _, key := range []string{"zte_web_sault", "ubus_rpc_session", "number", "content"} {
			for _, m := range regexp.MustCompile(`"`+key+`":"([^"]*)"`).FindAllStringSubmatch(string(b), -1) {
				add(key+" answered", m[1])
			}
		}
		if m := regexp.MustCompile(`-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/=]+)-----END`).FindStringSubmatch(string(b)); m != nil {
			add("PEM", m[0])
			add("the PEM's modulus", m[1][60:120])
		}
	}
	return out
}

// encodedForms are the ways smsgate might write s into a file: plain, hex
// of its bytes (either case), base64, JSON-escaped, UTF-16 hex.
func encodedForms(s string) []string {
	esc, _ := json.Marshal(s)
	return []string{s, hex.EncodeToString([]byte(s)), strings.ToUpper(hex.EncodeToString([]byte(s))),
		base64.StdEncoding.EncodeToString([]byte(s)), strings.Trim(string(esc), `"`), encodeContent(s)}
}

// findForms reports each secret found in the file, in any form.
func findForms(t *testing.T, file []byte, secrets map[string]string) {
	t.Helper()
	low := strings.ToLower(string(file))
	for s, what := range secrets {
		for _, f := range encodedForms(s) {
			if len(f) >= 6 && strings.Contains(low, strings.ToLower(f)) {
				t.Errorf("capture holds %s (%q) as %q", what, clip(s, 40), clip(f, 40))
			}
		}
	}
}

// ubusCapture runs doctor -capture (with a test SMS) against the u60pro
// simulator, encryption on (another web login already registered a key,
// so the inbox comes sealed from the start) or off, through the wire
// recorder. It returns the capture file, the simulator, the wire and
// doctor's output.
func ubusCapture(t *testing.T, encrypted bool, simPassword, password string) (string, *Sim, *ubusWire, string) {
	t.Helper()
	p := simUbusPersonalities["u60pro"]
	p.red = encrypted
	sim := newSim(p, simPassword)
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	sim.Deliver("+21612345678", "status", time.Now().Add(-time.Minute))
	sim.Deliver("+33 6 98 76 54 32", "hello 12345678", time.Now())
	sim.DeliverSIM("+21655443322", "SIM balance 5", time.Now())
	if encrypted {
		sim.OtherWebLogin()
	}
	wire := &ubusWire{target: sim.URL}
	proxy := httptest.NewServer(wire)
	t.Cleanup(proxy.Close)
	d, out := doctorFor(t, proxy.URL, password)
	d.cfg.sendTest = "+21699887766"
	d.statusEvery = 5 * time.Millisecond
	d.cfg.capture = filepath.Join(t.TempDir(), "capture.json")
	err := d.run(context.Background())
	if _, serr := os.Stat(d.cfg.capture); serr != nil {
		t.Fatalf("no capture (%v): %v\n%s", err, serr, out)
	}
	if (err == nil) != (simPassword == password) {
		t.Fatalf("doctor: %v\n%s", err, out)
	}
	return d.cfg.capture, sim, wire, out.String()
}

// TestDoctorCaptureUbusHasNoSecret: doctor -capture against the U60 Pro
// simulator, envelopes on and off, records the whole conversation
// (detection, login, listing, capacity, key handshake, the test SMS), and
// the file holds none of: the password (plain, URL-encoded, base64, hex,
// JSON-escaped), its SHA256 and salted hash, the salt, any session id,
// the AES keys (the client's and the one another login registered), the
// wrapped key, the PEM, an envelope or its plaintext, the numbers and
// texts, IMEI/IMSI/ICCID, IP addresses.
func TestDoctorCaptureUbusHasNoSecret(t *testing.T) {
	for _, encrypted := range []bool{true, false} {
		t.Run(map[bool]string{true: "encrypted", false: "plaintext"}[encrypted], func(t *testing.T) {
			file, sim, wire, out := ubusCapture(t, encrypted, capPassword, capPassword)
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			checkWholeCapture(t, b)
			secrets := wire.secrets(t)
			if n := len(secrets); n < 8 {
				t.Fatalf("the wire gave only %d secrets: the test sees nothing", n)
			}
			for _, h := range passwordHashes(capPassword) {
				secrets[h] = "the password's SHA256"
			}
			for _, pw := range encodedForms(capPassword) {
				secrets[pw] = "the password"
			}
			keys := sim.Record().RedKeys
			if encrypted && len(keys) != 3 { // another login's, then doctor's listing's and its send's
				t.Fatalf("%d keys registered, want 3", len(keys))
			}
			for _, key := range keys {
				secrets[hex.EncodeToString(key)] = "an AES key (hex, as wrapped)"
				secrets[string(key)] = "an AES key (raw)"
			}
			for _, s := range []string{"+21612345678", "21612345678", "+21699887766", "+21655443322", "hello 12345678", "SIM balance 5",
				"smsgate doctor: test message", "status"} {
				secrets[s] = "a number or text"
			}
			for k, v := range ubusIdentities {
				secrets[v] = k
			}
			delete(secrets, "status") // a word the file may hold as a key name; its hex and base64 forms stay
			for _, f := range []string{hex.EncodeToString([]byte("status")), base64.StdEncoding.EncodeToString([]byte("status")), encodeContent("status")} {
				secrets[f] = "a text's encoded form"
			}
			findForms(t, b, secrets)

			c, err := ReadCapture(b)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			for _, e := range c.Exchanges {
				call, _ := replayUbusObjectMethod(e)
				if call != "" && e.Kind == "json" {
					seen[call]++
				}
			}
			want := []string{"zwrt_web.web_login_info", "zwrt_web.web_login", "zwrt_wms.zte_libwms_get_sms_data",
				"zwrt_wms.zwrt_wms_get_wms_capacity", "zwrt_wms.zte_libwms_send_sms", "zwrt_wms.zwrt_wms_get_cmd_status"}
			if encrypted {
				want = append(want, "zwrt_web.web_crt_get", "zwrt_web.web_http_enstr_set")
			}
			for _, w := range want {
				if seen[w] == 0 {
					t.Errorf("capture lacks %s: %v\n%s", w, seen, out)
				}
			}
			s := string(b)
			for _, mark := range []string{`"<redacted:sha256-upper>"`, `"<session>"`, `"<anon>"`} {
				if !strings.Contains(s, mark) {
					t.Errorf("capture lacks %s", mark)
				}
			}
			if got := strings.Contains(s, "<text:sealed>") && strings.Contains(s, "<number:sealed>"); got != encrypted {
				t.Errorf("sealed marks %v, encryption %v", got, encrypted)
			}
			if c.Detected["family"] != familyUbus || c.Detected["encrypted"] != map[bool]string{true: "true", false: "false"}[encrypted] {
				t.Errorf("detected %v", c.Detected)
			}
		})
	}
}

// TestRedactUbus: what a ubus call and answer keep, and what they lose.
func TestRedactUbus(t *testing.T) {
	sealed := "AAAAAAAAAAAAAAAB9e2nXHwUNRem82LsaYdFsz7nislxxQItOhtnDg==" // zte-newer.md §1.8
	for _, c := range []struct{ in, want string }{
		{`[{"jsonrpc":"2.0","id":1,"method":"call","params":["00000000000000000000000000000000","zwrt_web","web_login",{"password":"` +
			strings.Repeat("AB12", 16) + `"}]}]`,
			`[{"id":1,"jsonrpc":"2.0","method":"call","params":["<anon>","zwrt_web","web_login",{"password":"<redacted:sha256-upper>"}]}]`},
		{`[{"jsonrpc":"2.0","id":7,"method":"call","params":["0123456789abcdef0123456789abcdef","zwrt_wms","zte_libwms_send_sms",` +
			`{"number":"` + sealed + `","message_body":"00480069","sms_time":"26;12;05;07;00;00;+0","id":"-1","encode_type":"UNICODE","x861234567890123":"1"}]}]`,
			`[{"id":7,"jsonrpc":"2.0","method":"call","params":["<session>","zwrt_wms","zte_libwms_send_sms",{"<redacted key 1>":"<redacted>","encode_type":"UNICODE","id":"-1","message_body":"<text>","number":"<number:sealed>","sms_time":"26;12;05;07;00;00;+0"}]}]`},
		{`[{"params":["s","zwrt_web","web_http_enstr_set",{"web_enstr":"` + sealed + `"}]}]`,
			`[{"params":["<session>","zwrt_web","web_http_enstr_set",{"web_enstr":"<redacted>"}]}]`},
		{`not json`, `"<redacted>"`},
	} {
		if got := string(redactUbusCall([]byte(c.in))); got != c.want {
			t.Errorf("redactUbusCall(%s)\n = %s\nwant %s", c.in, got, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{`[{"jsonrpc":"2.0","id":1,"result":[0,{"zte_web_sault":"0123abcd0123abcd"}]}]`,
			`[{"id":1,"jsonrpc":"2.0","result":[0,{"zte_web_sault":"<redacted>"}]}]`},
		{`[{"jsonrpc":"2.0","id":2,"result":[0,{"ubus_rpc_session":"0123456789abcdef0123456789abcdef"}]}]`,
			`[{"id":2,"jsonrpc":"2.0","result":[0,{"ubus_rpc_session":"<redacted>"}]}]`},
		{`[{"jsonrpc":"2.0","id":3,"result":[0,{"result":"-----BEGIN PUBLIC KEY-----MIIB-----END PUBLIC KEY-----"}]}]`,
			`[{"id":3,"jsonrpc":"2.0","result":[0,{"result":"<redacted:pem>"}]}]`},
		{`[{"jsonrpc":"2.0","id":4,"result":[0,{"messages":[{"id":"12","number":"` + sealed + `","content":"` + sealed + `","tag":"1"},{"id":"13","number":"+21612345678","content":"0048"}]}]}]`,
			`[{"id":4,"jsonrpc":"2.0","result":[0,{"messages":[{"content":"<text:sealed>","id":"12","number":"<number:sealed>","tag":"1"},{"content":"<text>","id":"13","number":"<number>"}]}]}]`},
		{`[{"jsonrpc":"2.0","id":5,"result":[2]}]`, `[{"id":5,"jsonrpc":"2.0","result":[2]}]`},
		{`{"jsonrpc":"2.0","id":123456789,"error":{"code":-32002,"message":"Access denied 10.1.2.3"}}`,
			`[{"error":{"code":-32002,"message":"Access denied <ip>"},"jsonrpc":"2.0"}]`},
		{`[{"jsonrpc":"2.0","id":6,"result":[0,{"imei":"861234567890123","wan_ipaddr":"10.1.2.3","sms_nv_total":"100"}]}]`,
			`[{"id":6,"jsonrpc":"2.0","result":[0,{"imei":"<redacted>","sms_nv_total":"100","wan_ipaddr":"<redacted>"}]}]`},
	} {
		got, ok := redactUbusAnswer([]byte(c.in))
		if !ok || string(got) != c.want {
			t.Errorf("redactUbusAnswer(%s)\n = %s %v\nwant %s", c.in, got, ok, c.want)
		}
	}
	for _, in := range []string{`<html></html>`, `[1,2]`, `{}`, `[null]`} {
		if got, ok := redactUbusAnswer([]byte(in)); ok {
			t.Errorf("redactUbusAnswer(%s) = %s, want refused", in, got)
		}
	}
}

// TestMarshalCaptureRemovesTokens: a token the recorder saw is removed
// from the whole file in every form, wherever a firmware echoed it.
func TestMarshalCaptureRemovesTokens(t *testing.T) {
	tok := "Zq9-kM2pXr7tWv4yLs" // no hex run: the scrubber leaves it, the token rule must not
	c := &Capture{Format: captureFormat, Report: []string{"echo " + tok, "b64 " + base64.StdEncoding.EncodeToString([]byte(tok)),
		"hex " + strings.ToUpper(hex.EncodeToString([]byte(tok))), "hash " + passwordHashes(capPassword)[1]}}
	b, err := marshalCaptureTokens(c, capPassword, nil, []string{tok, `a"b\c-quoted-token`})
	if err != nil {
		t.Fatal(err)
	}
	findForms(t, b, map[string]string{tok: "the token", passwordHashes(capPassword)[0]: "the password's hash"})
	if !strings.Contains(string(b), "echo <redacted>") {
		t.Errorf("capture lost its structure:\n%s", b)
	}
}

var digitRun6 = regexp.MustCompile(`\d{6,}`)

// FuzzRedactUbus: any call or answer is redacted without a panic into
// valid JSON that holds no run of 6 digits or more and no dotted quad.
func FuzzRedactUbus(f *testing.F) {
	f.Add([]byte(`[{"jsonrpc":"2.0","id":1,"method":"call","params":["00000000000000000000000000000000","zwrt_web","web_login",{"password":"x"}]}]`))
	f.Add([]byte(`[{"jsonrpc":"2.0","id":1,"result":[0,{"messages":[{"id":"1","number":"+21612345678","content":"0048"}]}]}]`))
	f.Add([]byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32002,"message":"Access denied"}}`))
	f.Add([]byte(`[{"result":["0",{"ubus_rpc_session":"861234567890123"}],"id":"123456"}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		outs := []json.RawMessage{redactUbusCall(b)}
		if a, ok := redactUbusAnswer(b); ok {
			outs = append(outs, a)
		}
		for _, out := range outs {
			if !json.Valid(out) {
				t.Fatalf("%q -> invalid JSON %q", b, out)
			}
			if m := digitRun6.FindString(string(out)); m != "" {
				t.Fatalf("%q -> %q holds digits %s", b, out, m)
			}
			if m := ipv4Pattern().FindString(string(out)); m != "" {
				t.Fatalf("%q -> %q holds an address %s", b, out, m)
			}
		}
	})
}

// runCmd runs a one-shot subcommand against url with its arguments and
// returns its output and error.
func runCmd(url string, cmd string, args ...string) (string, error) {
	var out bytes.Buffer
	err := run(append([]string{cmd, "-modem", url, "-password", capPassword, "-timeout", "2s"}, args...), strings.NewReader(""), &out, &out)
	return out.String(), err
}

// listIDs are the ids and dates `smsgate list` printed, one line each.
func listIDs(list string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(list), "\n") {
		if f := strings.Split(l, "\t"); len(f) >= 3 && !strings.HasPrefix(l, "time=") {
			out = append(out, f[0]+" "+f[2])
		}
	}
	return out
}

// TestUbusCaptureThenReplay: doctor -capture against the U60 Pro simulator,
// envelopes on and off; `smsgate sim -replay` of the file answers like the
// device: status, list (same ids and dates), send and delete succeed
// against it, doctor passes, a daemon pass obeys an owner's command, and
// the replay wants envelopes exactly when the device did.
func TestUbusCaptureThenReplay(t *testing.T) {
	for _, encrypted := range []bool{true, false} {
		t.Run(map[bool]string{true: "encrypted", false: "plaintext"}[encrypted], func(t *testing.T) {
			file, live, _, _ := ubusCapture(t, encrypted, capPassword, capPassword)
			liveList, err := runCmd(live.URL, "list")
			if err != nil {
				t.Fatalf("list against the device: %v\n%s", err, liveList)
			}

			url := startHiLinkReplayCmd(t, file, "-password", capPassword)
			if out, err := runCmd(url, "status"); err != nil {
				t.Errorf("status against the replay: %v\n%s", err, out)
			}
			list, err := runCmd(url, "list")
			if err != nil || strings.Join(listIDs(list), "\n") != strings.Join(listIDs(liveList), "\n") || len(listIDs(list)) != 3 {
				t.Errorf("list against the replay (%v):\n%s\n--- the device:\n%s", err, list, liveList)
			}
			if out, err := runCmd(url, "send", "+21699887766", "hello replay"); err != nil {
				t.Errorf("send against the replay: %v\n%s", err, out)
			}
			id := strings.Fields(listIDs(list)[0])[0]
			if out, err := runCmd(url, "delete", id); err != nil {
				t.Errorf("delete against the replay: %v\n%s", err, out)
			}
			if after, _ := runCmd(url, "list"); len(listIDs(after)) != 2 || strings.Contains(after, id+"\t") {
				t.Errorf("list after deleting %s:\n%s", id, after)
			}

			sim, spec := startReplay(t, file, capPassword)
			if !spec.p.ubus || spec.p.red != encrypted {
				t.Errorf("replay ubus %v, envelopes %v; want true, %v", spec.p.ubus, spec.p.red, encrypted)
			}
			want := map[bool]string{true: "encryption ON", false: "encryption off"}[encrypted]
			if notes := strings.Join(spec.notes, "\n"); !strings.Contains(notes, want) || !strings.Contains(notes, "ZTE ubus") {
				t.Errorf("notes lack %q:\n%s", want, notes)
			}
			d, out := doctorFor(t, sim.URL, capPassword)
			d.cfg.sendTest = "+21699887766"
			d.statusEvery = 5 * time.Millisecond
			if err := d.run(context.Background()); err != nil {
				t.Fatalf("doctor against the replay: %v\n%s", err, out)
			}
			sent := sim.Record().Sent
			if len(sent) != 1 || sent[0].Number != "+21699887766" || (sent[0].Form.Get("number") == sent[0].Number) == encrypted {
				t.Errorf("envelopes %v, the replay took %+v", encrypted, sent)
			}
			// As on the device: another login's key at start, then doctor's
			// listing's and its send's.
			if n, want := len(sim.Record().RedKeys), map[bool]int{true: 3, false: 0}[encrypted]; n != want {
				t.Errorf("%d keys registered, want %d", n, want)
			}

			// A daemon pass: an owner's ping is obeyed and answered.
			h := newFamHarness(t, simFamily{"replay", func(t *testing.T, clk *fakeClock) (familySim, modemPort) {
				return startZTESim(t, clk, newReplaySim(spec, "pw"))
			}}, nil)
			ping := h.send(owner, "ping")
			h.step()
			if got := h.decision(ping); got != "executed" {
				t.Errorf("ping: %s", got)
			}
			if r := h.replies(); len(r) != 1 || !strings.Contains(r[0], "pong") {
				t.Errorf("replies %q", r)
			}
		})
	}
}

// TestUbusReplayOfARefusedLogin: a capture taken with a wrong password
// replays as a device that refuses every login; doctor and the client
// spend one attempt against it, as against the device.
func TestUbusReplayOfARefusedLogin(t *testing.T) {
	file, live, _, out := ubusCapture(t, true, "the right one", capPassword)
	if n := len(live.Record().Logins); n != 1 {
		t.Errorf("doctor made %d logins against the device, want 1\n%s", n, out)
	}
	sim, spec := startReplay(t, file, capPassword)
	if !spec.p.refuseLogins || !strings.Contains(strings.Join(spec.notes, "\n"), "refuses every login") {
		t.Errorf("the replay takes logins: %v", spec.notes)
	}
	for _, target := range []*Sim{live, sim} {
		before := len(target.Record().Logins)
		d, out := doctorFor(t, target.URL, capPassword)
		if err := d.run(context.Background()); err == nil || !strings.Contains(line(out.String(), "login"), "FAIL") {
			t.Errorf("doctor passed with a refused login: %v\n%s", err, out)
		}
		m, err := newUbusModem(ModemConfig{URL: target.URL, Password: capPassword, Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			if _, err := m.Inbox(context.Background()); err == nil {
				t.Error("the inbox listed with a refused login")
			}
		}
		if n := len(target.Record().Logins) - before; n != 2 {
			t.Errorf("%d logins by doctor and one client, want 2 (one each)", n)
		}
	}
}

// TestIsUbusCapture: sim -replay picks the ubus replay by the family the
// client detected, else by a JSON-RPC answer on /ubus/.
func TestIsUbusCapture(t *testing.T) {
	rpc := Exchange{Method: "POST", Path: "/ubus/", Status: 200, Kind: "json", Body: json.RawMessage(`[{"jsonrpc":"2.0","id":1,"result":[0,{}]}]`)}
	notFound := Exchange{Method: "POST", Path: "/ubus/", Status: 404, Kind: "html"}
	for _, c := range []struct {
		name string
		c    Capture
		want bool
	}{
		{"detected ubus", Capture{Detected: map[string]string{"family": "ubus"}}, true},
		{"detected hilink", Capture{Detected: map[string]string{"family": "hilink"}, Exchanges: []Exchange{rpc}}, false},
		{"JSON-RPC answered", Capture{Exchanges: []Exchange{notFound, rpc}}, true},
		{"probe refused", Capture{Exchanges: []Exchange{notFound}}, false},
		{"nothing", Capture{}, false},
	} {
		if got := isUbusCapture(&c.c); got != c.want {
			t.Errorf("%s: isUbusCapture = %v, want %v", c.name, got, c.want)
		}
	}
}

// ubusEx is a recorded ubus exchange: a call and its answer as a capture
// holds them.
func ubusEx(method string, args, answer string) Exchange {
	obj, m, _ := strings.Cut(method, ".")
	return Exchange{Method: "POST", Path: "/ubus/", Status: 200, Kind: "json",
		Call: json.RawMessage(`[{"jsonrpc":"2.0","id":1,"method":"call","params":["<session>","` + obj + `","` + m + `",` + args + `]}]`),
		Body: json.RawMessage(`[{"jsonrpc":"2.0","id":1,"result":` + answer + `}]`)}
}

// TestReplayUbusReadsTheCapture: each trait of the replay comes from the
// exchange that shows it.
func TestReplayUbusReadsTheCapture(t *testing.T) {
	login := ubusEx("zwrt_web.web_login", `{"password":"<redacted:sha256-upper>"}`, `[0,{"ubus_rpc_session":"<redacted>"}]`)
	refused := ubusEx("zwrt_web.web_login", `{"password":"<redacted:sha256-upper>"}`, `[0,{"result":"3"}]`)
	list := ubusEx("zwrt_wms.zte_libwms_get_sms_data", `{"mem_store":1,"page":0}`,
		`[0,{"messages":[{"id":7,"tag":"1","number":"<number>","content":"<text>","date":"26,12,05,06,53,12,+0"},{"id":"9","tag":"0","number":"<number>","content":"<text>"}]}]`)
	sealedList := ubusEx("zwrt_wms.zte_libwms_get_sms_data", `{"mem_store":1}`, `[0,{"messages":[{"id":"3","number":"<number:sealed>","content":"<text:sealed>"}]}]`)
	capacity := ubusEx("zwrt_wms.zwrt_wms_get_wms_capacity", `{}`, `[0,{"sms_nv_total":"50"}]`)
	plainSend := ubusEx("zwrt_wms.zte_libwms_send_sms", `{"number":"<number>","message_body":"<text>"}`, `[0,{"result":"success"}]`)
	refusedSend := ubusEx("zwrt_wms.zte_libwms_send_sms", `{"number":"<number>","message_body":"<text>"}`, `[2]`)
	keyed := ubusEx("zwrt_web.web_http_enstr_set", `{"web_enstr":"<redacted>"}`, `[0,{"result":"success"}]`)
	det := map[string]string{"family": "ubus"}
	for _, c := range []struct {
		name               string
		ex                 []Exchange
		red, refuse, other bool
		msgs, capacity     int
		note               string
	}{
		{"plaintext device", []Exchange{login, list, capacity, plainSend}, false, false, false, 2, 50, "encryption off"},
		{"no send", []Exchange{login, list}, false, false, false, 2, 0, "encryption unknown"},
		{"plaintext refused", []Exchange{login, list, refusedSend, keyed}, true, false, false, 2, 0, "encryption ON"},
		{"sealed before a key", []Exchange{login, sealedList, keyed, sealedList}, true, false, true, 1, 0, "another login's key"},
		{"sealed after the key", []Exchange{login, keyed, sealedList}, true, false, false, 1, 0, "encryption ON"},
		{"refused login", []Exchange{refused}, false, true, false, 0, 0, "refuses every login"},
		{"refused, then accepted", []Exchange{refused, login}, false, false, false, 0, 0, "encryption unknown"},
	} {
		r := replayFromCapture(&Capture{Format: captureFormat, Detected: det, Exchanges: c.ex})
		notes := strings.Join(r.notes, "\n")
		if !r.p.ubus || r.p.red != c.red || r.p.refuseLogins != c.refuse || r.otherKey != c.other || len(r.msgs) != c.msgs ||
			r.capacity != c.capacity || !strings.Contains(notes, c.note) {
			t.Errorf("%s: ubus %v red %v refuse %v other key %v, %d messages, capacity %d, notes:\n%s",
				c.name, r.p.ubus, r.p.red, r.p.refuseLogins, r.otherKey, len(r.msgs), r.capacity, notes)
		}
	}
}

// ubusAnswers answers every request with the next of its bodies.
type ubusAnswers struct{ bodies []string }

func (u *ubusAnswers) exchange(ctx context.Context, req *webRequest) (*webAnswer, error) {
	b := u.bodies[0]
	if len(u.bodies) > 1 {
		u.bodies = u.bodies[1:]
	}
	return &webAnswer{Status: 200, Body: []byte(b), Header: map[string]string{}}, nil
}

// TestRecorderHoldsASecondUbusLogin: after a ubus login that gave no
// session, doctor's recorder sends no other (doctor spends at most one of
// the owner's attempts), whatever the client would do; one that gave a
// session holds nothing back.
func TestRecorderHoldsASecondUbusLogin(t *testing.T) {
	login := &webRequest{Method: "POST", Path: ubusPath,
		Body: []byte(`[{"jsonrpc":"2.0","id":1,"method":"call","params":["` + ubusAnon + `","zwrt_web","web_login",{"password":"x"}]}]`)}
	info := &webRequest{Method: "POST", Path: ubusPath,
		Body: []byte(`[{"jsonrpc":"2.0","id":1,"method":"call","params":["` + ubusAnon + `","zwrt_web","web_login_info",{}]}]`)}
	for _, c := range []struct {
		answer string
		held   bool
	}{
		{`[{"jsonrpc":"2.0","id":1,"result":[0,{"result":"3"}]}]`, true},
		{`[{"jsonrpc":"2.0","id":1,"result":[6]}]`, true},
		{`<html>`, true},
		{`[{"jsonrpc":"2.0","id":1,"result":[0,{"ubus_rpc_session":"0123456789abcdef0123456789abcdef"}]}]`, false},
	} {
		r := newRecorder(&ubusAnswers{[]string{c.answer}}, true)
		ctx := context.Background()
		if _, err := r.exchange(ctx, info); err != nil {
			t.Fatal(err)
		}
		if _, err := r.exchange(ctx, login); err != nil {
			t.Fatal(err)
		}
		_, err := r.exchange(ctx, login)
		if held := errors.Is(err, errLoginBudget); held != c.held {
			t.Errorf("after %s: second login held %v, want %v", c.answer, held, c.held)
		}
		if _, err := r.exchange(ctx, info); err != nil {
			t.Errorf("a call that is not a login was held: %v", err)
		}
	}
}
