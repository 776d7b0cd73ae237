package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// captureSecrets are the forms of the secrets the capture tests plant: the
// password (plain, URL-encoded, base64), an IMEI written plain and in
// groups, the owner's number in national, international and spaced form,
// and IP addresses.
const (
	capPassword = "Pa$$w0rd/é+1"
	capIMEI     = "861234567890123"
)

// separators are what people and firmware put between digits.
var separators = regexp.MustCompile(`[\s\-.()/+]`)

// walkCapture calls f on every string in the file (keys, values), with its
// JSON path.
func walkCapture(path string, v any, f func(path, s string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, vv := range x {
			f(path+"/key", k)
			walkCapture(path+"/"+k, vv, f)
		}
	case []any:
		for _, vv := range x {
			walkCapture(path+"[]", vv, f)
		}
	case string:
		f(path, x)
	}
}

// secretsIn returns the secrets found in s, in any of the forms above.
func secretsIn(s string) []string {
	var out []string
	low := strings.ToLower(s)
	for _, p := range []string{capPassword, url.QueryEscape(capPassword), url.PathEscape(capPassword),
		base64.StdEncoding.EncodeToString([]byte(capPassword)), encodeContent(capPassword)} {
		if strings.Contains(low, strings.ToLower(p)) {
			out = append(out, "password as "+p)
		}
	}
	bare := separators.ReplaceAllString(s, "")
	for _, d := range []string{capIMEI, "21612345678", "12345678", "33698765432"} {
		if strings.Contains(bare, d) {
			out = append(out, "digits "+d)
		}
	}
	if m := ipv4Pattern.FindString(s); m != "" {
		out = append(out, "address "+m)
	}
	return out
}

// checkWholeCapture walks every string of a capture file for every secret
// form; the fields that are the file's own (its date, the cache-buster,
// the random LD/RD/AD tokens) are left out.
func checkWholeCapture(t *testing.T, b []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("capture is not JSON: %v", err)
	}
	walkCapture("", v, func(path, s string) {
		for _, own := range []string{"/taken", "/_", "/LD", "/RD", "/AD"} {
			if strings.HasSuffix(path, own) {
				return
			}
		}
		if found := secretsIn(s); len(found) > 0 {
			t.Errorf("%s = %q holds %v", path, s, found)
		}
	})
}

// TestDoctorCaptureWholeFileHasNoSecretForm: firmware strings that carry
// secrets (an IMEI-like run, in groups, the owner's national and spaced
// number, an address, the URL-encoded password) reach the detected block
// and the report as well as the exchanges: every string in the file goes
// through the same scrubber.
func TestDoctorCaptureWholeFileHasNoSecretForm(t *testing.T) {
	p := simPersonalities["mc801a"]
	p.inner = "BD_MC801AV1.0.0B05 " + capIMEI + " 012345678 10.11.12.13"
	p.cr = "8612 3456 7890 123 +216 12 345 678 " + url.QueryEscape(capPassword)
	sim := newSim(p, capPassword)
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	sim.Deliver("+21612345678", "status", time.Now())
	sim.Deliver("+33 6 98 76 54 32", "hello", time.Now())
	d, out := doctorFor(t, sim.URL, capPassword)
	d.cfg.allow = listFlag{"+21612345678"}
	d.cfg.capture = filepath.Join(t.TempDir(), "capture.json")
	if err := d.run(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	b, err := os.ReadFile(d.cfg.capture)
	if err != nil {
		t.Fatal(err)
	}
	checkWholeCapture(t, b)
	c, err := ReadCapture(b)
	if err != nil {
		t.Fatal(err)
	}
	if c.Detected["hardware_version"] != "MC801A" {
		t.Errorf("detected lost what it is for: %v", c.Detected)
	}
}

// TestMarshalCaptureRemovesEncodedForms: the password URL-encoded in a key,
// a kept value and the Server header, an IMEI in groups and a number with
// spaces are removed from the whole file.
func TestMarshalCaptureRemovesEncodedForms(t *testing.T) {
	enc := url.QueryEscape(capPassword)
	c := &Capture{Format: captureFormat,
		Detected:  map[string]string{"wa_inner_version": "V1 " + capIMEI, "cr_version": "8612 3456 7890 123", "x" + enc: "012345678"},
		Report:    []string{"login " + enc, "owner +216 12 345 678"},
		Exchanges: []Exchange{{Seq: 1, Kind: "json", Header: map[string]string{"Server": "GoAhead " + enc}}}}
	// The body as the recorder keeps it.
	_, c.Exchanges[0].Body, _ = redactBody([]byte(`{"k` + enc + `":"v","network_provider":"Orange ` + enc + ` 8612 3456 7890 123"}`))
	b, err := MarshalCapture(c, capPassword, []string{"+21612345678"})
	if err != nil {
		t.Fatal(err)
	}
	checkWholeCapture(t, b)
	if !strings.Contains(string(b), "Orange") || !strings.Contains(string(b), "GoAhead") {
		t.Errorf("capture lost what it is for:\n%s", b)
	}
}

// TestCapturePasswordWithDigitRuns: a password holding five digits or more
// is removed in every form, although the digit scrubber, run first, cuts
// its digits (witness: "Sunset#99999" left "Sunset#<num>" and
// "Sunset%<num>" in the capture).
func TestCapturePasswordWithDigitRuns(t *testing.T) {
	for pw, word := range map[string]string{"Sunset#99999": "Sunset", "p@ss w0rd&=+%/é1234567": "w0rd", "ab12345cd": "ab"} {
		forms := []string{pw, url.QueryEscape(pw), url.PathEscape(pw), base64.StdEncoding.EncodeToString([]byte(pw))}
		all := strings.Join(forms, " | ")
		c := &Capture{Format: captureFormat,
			Detected:  map[string]string{"cr_version": "FW " + all},
			Report:    []string{"login " + all},
			Exchanges: []Exchange{{Seq: 1, Kind: "json", Header: map[string]string{"Server": "GoAhead " + all}}}}
		body, _ := json.Marshal(map[string]string{"network_provider": "Orange " + all})
		_, c.Exchanges[0].Body, _ = redactBody(body)
		b, err := MarshalCapture(c, pw, nil)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), word) {
			t.Errorf("password %q: the capture keeps %q:\n%s", pw, word, b)
		}
		if !strings.Contains(string(b), "Orange") || !strings.Contains(string(b), "GoAhead") {
			t.Errorf("capture lost what it is for:\n%s", b)
		}
	}
}
