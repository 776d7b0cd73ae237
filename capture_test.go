package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	leakDigits = regexp.MustCompile(`\d{5,}`)
	leakHex    = regexp.MustCompile(`(?i)[0-9a-f]{8,}`)
	leakIPv4   = regexp.MustCompile(`\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}`)
)

// leaks says what in a redacted answer could be a number, a text or an
// address: any run of 5 digits, of 8 hex digits (outside the LD, RD and AD
// tokens) or a dotted quad.
func leaks(kind string, body json.RawMessage, text string) []string {
	s := text
	if body != nil {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return []string{"body is not JSON: " + string(body)}
		}
		s = flattenWithoutTokens("", v)
	}
	var out []string
	for _, re := range []*regexp.Regexp{leakDigits, leakHex, leakIPv4} {
		out = append(out, re.FindAllString(s, -1)...)
	}
	return out
}

func flattenWithoutTokens(key string, v any) string {
	switch x := v.(type) {
	case map[string]any:
		var b strings.Builder
		for k, vv := range x {
			b.WriteString(k + "=" + flattenWithoutTokens(k, vv) + " ")
		}
		return b.String()
	case []any:
		var b strings.Builder
		for _, vv := range x {
			b.WriteString(flattenWithoutTokens(key, vv) + " ")
		}
		return b.String()
	case string:
		if tokenKeys[key] {
			return "<token>"
		}
		return x
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Answers as firmware writes them, defects included, each holding owner
// data that must not survive.
var redactionCases = []struct{ name, answer string }{
	{"inbox", `{"messages":[{"id":"164","number":"+358124534","content":"0054006500730074","tag":"1","date":"22,09,17,18,33,25,+12"}]}`},
	{"hex number", `{"messages":[{"id":"7","number":"002B00330035003800310032","content":"00480069","tag":"0"}]}`},
	{"alphanumeric sender", `{"messages":[{"id":"8","number":"TELKOMSEL","content":"00480069","tag":"0"}]}`},
	{"doubled quotes", `{"messages":[{"id":""31321"","number":""+21612345678"","content":""00480069"","tag":"1"}]}`},
	{"control characters", "{\"messages\":[{\"id\":\"9\",\"number\":\"+21612345678\",\"content\":\"0048\x01\x020069\",\"sms_class\x01\":\"4\"}]}"},
	{"cut in a number", `{"messages":[{"id":"10","number":"+2161234`},
	{"cut in a text", `{"messages":[{"id":"10","number":"TELKOMSEL","content":"00480065006C006C`},
	{"cut doubled", `{"messages":[{"id":"10","number":""TELKOMSEL""`},
	{"identity", `{"imei":"356938035643809","imsi":"605030123456789","sim_iccid":"8921603012345678901","msisdn":"+21698765432"}`},
	{"addresses", `{"wan_ipaddr":"100.64.12.34","lan_ipaddr":"192.168.0.1","ipv6_wan_ipaddr":"2001:db8:85a3::8a2e:370:7334","ppp_status":"ppp_connected"}`},
	{"address in a kept key", `{"network_provider":"Op 10.1.2.3 +21612345678","ppp_status":"ppp_connected"}`},
	{"spaced number in a kept key", `{"network_provider":"Call +216 12 345 678 or (01) 234-5678","ppp_status":"ppp_connected"}`},
	{"address glued to a word (fuzz)", `{"network_provider":"A0.0.0.0 gw10.1.2.3"}`},
	{"html", `<html><body>Welcome +21612345678, IMEI 356938035643809 at 192.168.0.1 fe80::1 00480069006C</body></html>`},
	{"number as JSON number", `{"messages":[{"id":11,"number":21612345678,"content":"0048"}]}`},
	{"long number in a kept key (fuzz)", `{"x1234567":[{"id":10000}],"sms_nvused_total":2.1612345678e10}`},
	{"hex inside a word", `# AAAAAAAAXA`},
	{"unknown key holding a number", `{"sms_unread_num":"1","owner_phone":"+21612345678","21612345678":"x"}`},
}

func TestRedactionLeavesNoNumberTextOrAddress(t *testing.T) {
	secrets := []string{"TELKOMSEL", "+21612345678", "+358124534", "356938035643809", "100.64.12.34",
		"192.168.0.1", "2001:db8:85a3::8a2e:370:7334", "+21698765432", "605030123456789", "Test", "Hello",
		"12 345 678", "234-5678"}
	for _, tc := range redactionCases {
		t.Run(tc.name, func(t *testing.T) {
			kind, body, text := redactBody([]byte(tc.answer))
			if l := leaks(kind, body, text); len(l) > 0 {
				t.Errorf("%s answer kept %q: %s%s", kind, l, body, text)
			}
			out := string(body) + text
			for _, s := range secrets {
				for _, f := range []string{s, encodeContent(s)} {
					if strings.Contains(strings.ToLower(out), strings.ToLower(f)) {
						t.Errorf("%q survived: %s", f, out)
					}
				}
			}
		})
	}
	// What the capture is for survives: the keys, the blank values, the
	// firmware's own words.
	_, body, _ := redactBody([]byte(`{"loginfo":"","ppp_status":"ppp_connected","wa_inner_version":"BD_MF920VV1.0.0B03","RD":"AB12CD34","number":"002B0031"}`))
	for _, want := range []string{`"loginfo":""`, `"ppp_status":"ppp_connected"`, `"wa_inner_version":"BD_MF920VV1.0.0B03"`, `"RD":"AB12CD34"`, `"number":"<number:hex>"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("no %s in %s", want, body)
		}
	}
}

func FuzzRedactBody(f *testing.F) {
	for _, tc := range redactionCases {
		f.Add([]byte(tc.answer))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		kind, body, text := redactBody(b)
		if l := leaks(kind, body, text); len(l) > 0 {
			t.Errorf("%s answer kept %q: %s%s", kind, l, body, text)
		}
	})
}

func TestRedactParams(t *testing.T) {
	got := redactParams(map[string][]string{
		"goformId": {"SEND_SMS"}, "Number": {"+21612345678"}, "MessageBody": {"00480069"}, "password": {"czNjcmV0"},
		"user": {"admin"}, "AD": {"02bb862c133c79826efbe952c8a57c34"}, "_": {"1773489600000"}, "sms_time": {"26;03;14;12;00;00;+0"},
	})
	want := map[string]string{"goformId": "SEND_SMS", "Number": "<number>", "MessageBody": "<text>", "password": "<redacted:base64>",
		"user": "<redacted>", "AD": "02bb862c133c79826efbe952c8a57c34", "_": "1773489600000", "sms_time": "26;03;14;12;00;00;+0"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

// The whole file doctor writes: no password, number, text or address, in
// any form, survives.
func TestDoctorCaptureHasNoSecrets(t *testing.T) {
	for _, hexNumbers := range []bool{false, true} {
		sim := startDoctorSim(t, "mc801a", "Pa55word-xyz")
		sim.SetFaults(func(f *SimFaults) { f.HexNumbers = hexNumbers; f.Malformed = hexNumbers })
		owner, other := "+21612345678", "+33698765432"
		texts := []string{"status please", "Привет, ключ 4711", "Balance 5$ 😀"}
		sim.Deliver(owner, texts[0], time.Now())
		sim.Deliver(other, texts[1], time.Now())
		sim.DeliverSIM("TELKOMSEL", texts[2], time.Now())
		d, out := doctorFor(t, sim.URL, "Pa55word-xyz")
		d.cfg.allow = listFlag{owner}
		d.cfg.sendTest = "+21655443322"
		d.cfg.capture = filepath.Join(t.TempDir(), "capture.json")
		if err := d.run(context.Background()); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		b, err := os.ReadFile(d.cfg.capture)
		if err != nil {
			t.Fatal(err)
		}
		file := strings.ToLower(string(b))
		secrets := append([]string{"Pa55word-xyz", owner, other, "TELKOMSEL", d.cfg.sendTest, "100.64.12.34", "192.168.0.1", "127.0.0.1",
			strings.TrimPrefix(sim.URL, "http://")}, texts...)
		for _, s := range secrets {
			for _, f := range append(secretForms("", []string{s}), s) {
				if strings.Contains(file, strings.ToLower(f)) {
					t.Errorf("%q (as %q) is in the capture", s, f)
				}
			}
		}
		c, err := ReadCapture(b)
		if err != nil {
			t.Fatal(err)
		}
		// The attempts left are read before anything else.
		if first := c.Exchanges[0]; !strings.Contains(first.Query["cmd"], "psw_fail_num_str") {
			t.Errorf("first request: %+v", first)
		}
		if len(c.Exchanges) < 10 || c.Detected["hardware_version"] != "MC801A" {
			t.Errorf("capture: %d exchanges, detected %v", len(c.Exchanges), c.Detected)
		}
		for _, e := range c.Exchanges {
			if l := leaks(e.Kind, e.Body, e.Text); len(l) > 0 {
				t.Errorf("exchange %d kept %q", e.Seq, l)
			}
		}
	}
}

// The last pass removes what the rules kept: a secret under a kept key, or
// in doctor's own lines.
func TestMarshalCaptureRemovesKnownSecrets(t *testing.T) {
	c := &Capture{Format: captureFormat, Report: []string{"FAIL  login  the password hunter2-ok was refused", "note 0021003200310036"},
		Exchanges: []Exchange{{Seq: 1, Kind: "json", Body: []byte(`{"network_provider":"Orange aHVudGVyMi1vaw== +216 12 345 678"}`)}}}
	b, err := MarshalCapture(c, "hunter2-ok", []string{"+21612345678", "!216"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"hunter2-ok", "aHVudGVyMi1vaw==", "0021003200310036"} {
		if strings.Contains(string(b), f) {
			t.Errorf("%q survived:\n%s", f, b)
		}
	}
	if !json.Valid(b) || !strings.Contains(string(b), "Orange") {
		t.Errorf("capture broken:\n%s", b)
	}
}
