package main

import (
	"encoding/base64"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"
)

// doctor names the generation and whether encryption is on; the capture
// of an encrypted modem holds no key, no PEM and no plaintext of an
// envelope; its replay plays the same generation.
func TestDoctorNewerGenerations(t *testing.T) {
	for _, tc := range []struct {
		personality, gen, enc string
	}{
		{"mc889", genRED, "encryption ON"},
		{"f50", genF50, "encryption off"},
		{"mf297d", genClassic, "encryption off"},
		{"zxic", genZXIC, "encryption off"},
	} {
		t.Run(tc.personality, func(t *testing.T) {
			sim := startDoctorSim(t, tc.personality, "s3cret")
			sim.Deliver("+21612345678", "secret command kq4711", time.Now().Add(-time.Minute))
			sim.OtherWebLogin() // the web UI registered a key: the listing comes sealed
			user := ""
			if simPersonalities[tc.personality].userForm != "" {
				user = "admin"
			}
			file, det, out := captureOf(t, sim, "s3cret", user)
			l := line(out, "generation")
			if !strings.HasPrefix(l, "ok") || !strings.Contains(l, tc.gen) || !strings.Contains(l, tc.enc) {
				t.Errorf("generation line %q, want %q and %q\n%s", l, tc.gen, tc.enc, out)
			}
			if det.Generation != tc.gen || det.Encrypted != (tc.personality == "mc889") {
				t.Errorf("detected %q encrypted %v", det.Generation, det.Encrypted)
			}
			if l := line(out, "inbox"); !strings.Contains(l, "1 received") || !strings.Contains(l, "0 incomplete") {
				t.Errorf("inbox line %q", l)
			}
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			capture := string(b)
			secrets := []string{"BEGIN PUBLIC", "KEY-----", "secret command", "kq4711", "+21612345678"}
			if tc.personality == "mc889" {
				pem := simPEMOneLine()
				secrets = append(secrets, pem[30:90])
				sim.mu.Lock()
				key := sim.redKey
				sim.mu.Unlock()
				secrets = append(secrets, hex.EncodeToString(key), strings.ToUpper(hex.EncodeToString(key)), base64.StdEncoding.EncodeToString(key))
				if !strings.Contains(capture, "web_http_enstr_set") || !strings.Contains(capture, "<redacted:pem>") {
					t.Errorf("the capture does not show the handshake")
				}
			}
			for _, s := range secrets {
				if strings.Contains(capture, s) {
					t.Errorf("the capture holds %q", s)
				}
			}

			simB, spec := startReplay(t, file, "s3cret")
			if spec.p.red != sim.p.red || spec.p.contentBase64 != sim.p.contentBase64 || spec.p.numericResult != sim.p.numericResult || spec.p.reqproc != sim.p.reqproc {
				t.Errorf("replay red %v base64 %v numeric %v, want %v %v %v", spec.p.red, spec.p.contentBase64, spec.p.numericResult,
					sim.p.red, sim.p.contentBase64, sim.p.numericResult)
			}
			_, detB, outB := captureOf(t, simB, "s3cret", user)
			if detB.Generation != tc.gen || detB.Encrypted != det.Encrypted {
				t.Errorf("replay detected %q encrypted %v\n%s", detB.Generation, detB.Encrypted, outB)
			}
		})
	}
}
