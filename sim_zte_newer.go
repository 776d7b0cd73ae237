//go:build !nosim

package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf16"
)

// The newer ZTE generations (../shared/zte-newer.md), played by the same
// simulator: the F50 / U30 Air with a base64 inbox (§3) and the MC888 /
// MC889 "RED" encryption (§1). Written from the notes alone, like sim.go.

// simF50ConfigJS is the F50 web UI's config.js, the keys §3 quotes.
const simF50ConfigJS = `define(function(){var config={DEVICE:"ufi/u30air",HAS_SMS:!0,SMS_DATABASE_SORT_SUPPORT:!0,SHOW_UN_COMPLETE_CONCAT_SMS:!0,HAS_PHONEBOOK:!1,WEB_ATTR_IF_SUPPORT_SHA256:2,ACCESSIBLE_ID_SUPPORT:!0,PASSWORD_ENCODE:!0};return config});`

func init() {
	// F50 / U30 Air: base64 UTF-8 content, LOGIN answered {"result":0},
	// salted SHA256 login, upper-case SHA256 AD.
	simPersonalities["f50"] = simPersonality{name: "f50", model: "ZTE F50", inner: "BD_F50V1.0.0B09", scheme: 2, servesLD: true,
		configJS: simF50ConfigJS, cookie: "stok", ad: "sha256", expiry: "blank", connected: "ppp_connected",
		numericResult: true, contentBase64: true}
	// MC889 with RED encryption: number and content in AES-256-GCM
	// envelopes once a key is registered, plaintext sends refused.
	simPersonalities["mc889"] = simPersonality{name: "mc889", model: "MC889", inner: "BD_MC889V1.0.0B04", scheme: 2, servesLD: true,
		cookie: "zsidn", ad: "sha256", rdNeedsSession: true, userForm: "user", stuckAttempts: true, expiry: "html", connected: "ppp_connected",
		red: true}
	// A ZXIC-based dongle (zxic_web_new): the classic parameters under
	// /reqproc/, base64 password, no AD, session tied to the address.
	simPersonalities["zxic"] = simPersonality{name: "zxic", model: "MF79S", inner: "ZXIC_MF79S_V1.0.0B02", scheme: 0,
		expiry: "blank", connected: "ppp_connected", reqproc: true}
}

// simRSA is the simulated modems' RSA key: one per process, made on first
// use (a 2048-bit key takes a moment, too long for every test's modem).
var simRSA = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic("sim rsa key: " + err.Error()) // crypto/rand does not fail
	}
	return k
})

// simPEMOneLine is the public key as web_crt_get answers it: an SPKI PEM
// without its line breaks (§1.3).
func simPEMOneLine() string {
	der, err := x509.MarshalPKIXPublicKey(&simRSA().PublicKey)
	if err != nil {
		return ""
	}
	return "-----BEGIN PUBLIC KEY-----" + base64.StdEncoding.EncodeToString(der) + "-----END PUBLIC KEY-----"
}

// OtherWebLogin is another client (the web UI) registering its own key:
// the key is device-wide, so the client's envelopes stop decrypting.
func (s *Sim) OtherWebLogin() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p.red {
		s.redKey = make([]byte, 32)
		rand.Read(s.redKey)
		s.rec.RedKeys = append(s.rec.RedKeys, s.redKey)
	}
}

// FightKey is another client left open (the web UI) that registers its
// own key right after each key a client registers: the key is
// device-wide, so nothing the client lists or seals works until it stops.
func (s *Sim) FightKey(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keyFight = on
}

// RedKeyed says whether a client registered a key.
func (s *Sim) RedKeyed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.redKey != nil
}

// simWebCrtGet answers cmd=web_crt_get: the PEM on RED firmware, the
// classic answer without result elsewhere. Whether it needs a session is
// not known (§5): it is asked one here, the stricter reading.
func (s *Sim) simWebCrtGet(authed bool) simAnswer {
	if !s.p.red {
		return s.json("web_crt_get", "")
	}
	if !authed {
		return s.expired(s.json("result", ""))
	}
	return s.json("result", simPEMOneLine())
}

// simEnstrSet registers the client's AES key: RSA PKCS#1 v1.5 of 64 hex
// characters (§1.3).
func (s *Sim) simEnstrSet(q url.Values) bool {
	if !s.p.red {
		return false
	}
	wrapped, err := base64.StdEncoding.DecodeString(q.Get("web_enstr"))
	if err != nil {
		return false
	}
	//lint:ignore SA1019 the firmware wraps the key with PKCS #1 v1.5 and knows no OAEP (zte-newer.md §1.3)
	keyHex, err := rsa.DecryptPKCS1v15(nil, simRSA(), wrapped)
	if err != nil || len(keyHex) != 64 {
		return false
	}
	key, err := hex.DecodeString(string(keyHex))
	if err != nil {
		return false
	}
	s.redKey = key
	s.rec.RedKeys = append(s.rec.RedKeys, key)
	if s.keyFight {
		s.redKey = make([]byte, 32)
		rand.Read(s.redKey)
		s.rec.RedKeys = append(s.rec.RedKeys, s.redKey)
	}
	return true
}

// simSeal is the envelope: base64(IV(12) ‖ tag(16) ‖ ciphertext), no AAD.
func simSeal(key []byte, plain string) string {
	block, err := aes.NewCipher(key)
	if err != nil {
		return ""
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return ""
	}
	iv := make([]byte, 12)
	rand.Read(iv)
	sealed := gcm.Seal(nil, iv, []byte(plain), nil) // ciphertext ‖ tag
	ct, tag := sealed[:len(sealed)-16], sealed[len(sealed)-16:]
	return base64.StdEncoding.EncodeToString(append(append(iv, tag...), ct...))
}

// simOpen opens an envelope, ok false for anything else.
func simOpen(key []byte, v string) (string, bool) {
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(raw) < 28 || key == nil {
		return "", false
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", false
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return "", false
	}
	iv, tag, ct := raw[:12], raw[12:28], raw[28:]
	plain, err := gcm.Open(nil, iv, append(append([]byte(nil), ct...), tag...), nil)
	if err != nil {
		return "", false
	}
	return string(plain), true
}

// simWireField is a listed number or content as the generation writes it.
func (s *Sim) simWireField(v string) string {
	if s.p.red && s.redKey != nil {
		return simSeal(s.redKey, v)
	}
	return v
}

// simWireContent is a message's text as the listing carries it.
func (s *Sim) simWireContent(text string) string {
	if s.p.contentBase64 {
		return base64.StdEncoding.EncodeToString([]byte(text))
	}
	return s.simWireField(simHexUTF16(text))
}

// simSentFields reads SEND_SMS's Number and MessageBody: envelopes on RED
// firmware (a plaintext send refused), the body as the web UIs write it.
func (s *Sim) simSentFields(q url.Values) (number, text string, ok bool) {
	number, body := q.Get("Number"), q.Get("MessageBody")
	if s.p.red {
		if number, ok = simOpen(s.redKey, number); !ok {
			return "", "", false
		}
		if body, ok = simOpen(s.redKey, body); !ok {
			return "", "", false
		}
	}
	text, ok = simUnhexUIBody(body)
	return number, text, ok && number != ""
}

// simUnhexUIBody reads a MessageBody: whole UTF-16 hex units, or the web
// UIs' form where a character beyond the BMP is its bare code point
// (U+1F44D as "1F44D", §3.3), which firmware is not known to refuse.
func simUnhexUIBody(h string) (string, bool) {
	if t, ok := simUnhexUTF16(h); ok {
		return t, true
	}
	return simCodePoints(h)
}

// simCodePoints splits h into 4-digit BMP units and 5- or 6-digit code
// points beyond the BMP, preferring a split where every character is a
// graphic one (the UI writes only what a person typed).
func simCodePoints(h string) (string, bool) {
	if len(h) > 4*1024 {
		return "", false
	}
	memo := map[int]bool{}
	var out []rune
	var walk func(i int) bool
	walk = func(i int) bool {
		if i == len(h) {
			return true
		}
		if done, seen := memo[i]; seen {
			return done
		}
		for _, n := range []int{4, 5, 6} {
			if i+n > len(h) {
				break
			}
			v, err := strconv.ParseUint(h[i:i+n], 16, 32)
			r := rune(v)
			if err != nil || (n == 4) != (r < 0x10000) || r > unicode.MaxRune || utf16.IsSurrogate(r) ||
				!(unicode.IsGraphic(r) || r == '\n' || r == '\r') {
				continue
			}
			out = append(out, r)
			if walk(i + n) {
				return true
			}
			out = out[:len(out)-1]
		}
		memo[i] = false
		return false
	}
	if h == "" || !walk(0) {
		return "", false
	}
	return string(out), true
}

// simNewerAnswersRead: web_crt_get is asked without multi_data.
func (s *Sim) simNewerGet(cmd string, authed bool) (simAnswer, bool) {
	if cmd == "web_crt_get" {
		return s.simWebCrtGet(authed), true
	}
	return simAnswer{}, false
}

// simAsksUIPreLogin says whether a multi_data read is one of the web UIs'
// reads before login (zte-newer.md §3.4, zte-goform.md "What the
// firmware's own web UIs do"): it asks loginfo, Language, the versions or
// the PIN state. Firmware answers such a read as JSON, hidden keys blank,
// loginfo present; an HTML page or a redirect keeps the UI from drawing
// its login page (TestSimAnswersTheWebUIsReads).
func simAsksUIPreLogin(cmd string) bool {
	for _, k := range strings.Split(cmd, ",") {
		switch k {
		case "loginfo", "Language", "wa_inner_version", "cr_version", "sim_pin_status", "pin_status", "puknumber":
			return true
		}
	}
	return false
}

func (s *Sim) simGetPath() string {
	if s.p.reqproc {
		return "/reqproc/proc_get"
	}
	return "/goform/goform_get_cmd_process"
}

func (s *Sim) simSetPath() string {
	if s.p.reqproc {
		return "/reqproc/proc_post"
	}
	return "/goform/goform_set_cmd_process"
}
