package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

// The vectors of zte-newer.md §1.8 (computed for the notes with Python
// cryptography and Node crypto): the client's envelope and the
// simulator's, each written from the notes, give them.
func TestRedEnvelopeVectors(t *testing.T) {
	key, _ := hex.DecodeString("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	iv, _ := hex.DecodeString("000000000000000000000001")
	aead, err := redCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	for plain, want := range map[string]string{
		"+15551234567": "AAAAAAAAAAAAAAAB9e2nXHwUNRem82LsaYdFsz7nislxxQItOhtnDg==",
		"00480069":     "AAAAAAAAAAAAAAABSKexKUmVSU8GqNKaRbvH+CXmi8R0xAYn",
	} {
		if got := redSeal(aead, iv, plain); got != want {
			t.Errorf("seal %q = %s, want %s", plain, got, want)
		}
		if got, ok := redOpen(aead, want); !ok || got != plain {
			t.Errorf("open %s = %q %v", want, got, ok)
		}
		if got, ok := simOpen(key, want); !ok || got != plain {
			t.Errorf("sim open %s = %q %v", want, got, ok)
		}
		if !looksSealed(want) {
			t.Errorf("%s not taken for an envelope", want)
		}
	}
	// The fallback order IV ‖ ciphertext ‖ tag opens too; a changed byte
	// does not.
	raw, _ := base64.StdEncoding.DecodeString("AAAAAAAAAAAAAAAB9e2nXHwUNRem82LsaYdFsz7nislxxQItOhtnDg==")
	swapped := append(append(append([]byte(nil), raw[:12]...), raw[28:]...), raw[12:28]...)
	if got, ok := redOpen(aead, base64.StdEncoding.EncodeToString(swapped)); !ok || got != "+15551234567" {
		t.Errorf("IV‖ct‖tag: %q %v", got, ok)
	}
	raw[len(raw)-1] ^= 1
	if got, ok := redOpen(aead, base64.StdEncoding.EncodeToString(raw)); ok {
		t.Errorf("a changed envelope opened: %q", got)
	}
}

func TestLooksSealed(t *testing.T) {
	for v, want := range map[string]bool{
		"+15551234567": false,
		"00480069004800690048006900480069004800690048006900480069":                                  false,
		base64.StdEncoding.EncodeToString([]byte("a long F50 message in base64, clean UTF-8 text")): false,
		"AAAAAAAAAAAAAAABSKexKUmVSU8GqNKaRbvH+CXmi8R0xAYn":                                          true,
		"TELKOMSEL": false,
	} {
		if got := looksSealed(v); got != want {
			t.Errorf("looksSealed(%q) = %v", v, got)
		}
	}
}

// The key handshake: the PEM as the modem hands it out (one line) is
// read, and what is posted RSA-decrypts to the AES key as 64 lower-case
// hex characters.
func TestRedKeyWrap(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	body := base64.StdEncoding.EncodeToString(der)
	wrapped := ""
	for i := 0; i < len(body); i += 64 {
		wrapped += body[i:min(i+64, len(body))] + "\n"
	}
	for name, pem := range map[string]string{
		"one line":    "-----BEGIN PUBLIC KEY-----" + body + "-----END PUBLIC KEY-----",
		"line breaks": "-----BEGIN PUBLIC KEY-----\n" + wrapped + "-----END PUBLIC KEY-----\n",
		"escaped \\n": "-----BEGIN PUBLIC KEY-----\\n" + strings.ReplaceAll(wrapped, "\n", "\\n") + "-----END PUBLIC KEY-----",
	} {
		pub, err := parseRedPEM(pem)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		aead, enstr, err := newRedKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		ct, _ := base64.StdEncoding.DecodeString(enstr)
		//lint:ignore SA1019 the firmware wraps the key with PKCS #1 v1.5 and knows no OAEP (zte-newer.md §1.3)
		keyHex, err := rsa.DecryptPKCS1v15(nil, priv, ct)
		if err != nil || len(keyHex) != 64 || strings.ToLower(string(keyHex)) != string(keyHex) {
			t.Fatalf("%s: unwrapped %q, %v", name, keyHex, err)
		}
		key, _ := hex.DecodeString(string(keyHex))
		sealed, _ := redSealRandom(aead, "0041")
		if got, ok := simOpen(key, sealed); !ok || got != "0041" {
			t.Errorf("%s: the wrapped key does not open the client's envelope", name)
		}
	}
	for _, bad := range []string{"", "-----BEGIN PUBLIC KEY-----!!!-----END PUBLIC KEY-----", "-----BEGIN PUBLIC KEY-----AAAA"} {
		if _, err := parseRedPEM(bad); err == nil {
			t.Errorf("%q read as a key", bad)
		}
	}
}

// MC889 end to end: the listing before any key is plaintext; once the
// client registered one, envelopes; another web login replaces the key
// and the client registers a new one and reads every message, none
// acted on while unreadable. Sends go sealed; a plaintext send is refused.
func TestMC889Encryption(t *testing.T) {
	sim, m, clk := startSim(t, "mc889", "pw", "pw")
	ctx := context.Background()
	sim.Deliver("+21612345678", "status 1", clk.Now())
	msgs, err := m.Inbox(ctx)
	if err != nil || len(msgs) != 1 || msgs[0].Text != "status 1" {
		t.Fatalf("before a key: %+v %v", msgs, err)
	}
	if err := m.Send(ctx, "+21612345678", "pong"); err != nil {
		t.Fatal(err)
	}
	if !sim.RedKeyed() {
		t.Fatal("no key registered for the send")
	}
	sent := sim.Record().Sent
	if len(sent) != 1 || sent[0].Text != "pong" || sent[0].Number != "+21612345678" ||
		sent[0].Form.Get("Number") == "+21612345678" || isHex(sent[0].Form.Get("MessageBody")) {
		t.Fatalf("sent %+v: want sealed fields the modem opens", sent)
	}
	sim.Deliver("+21612345678", "перезагрузка", clk.Now())
	msgs, err = m.Inbox(ctx)
	if err != nil || len(msgs) != 2 || msgs[1].Text != "перезагрузка" || msgs[1].From != "+21612345678" || !msgs[1].Complete {
		t.Fatalf("with the key: %+v %v", msgs, err)
	}
	sim.OtherWebLogin()
	posts := len(sim.Record().Posts)
	msgs, err = m.Inbox(ctx)
	if err != nil || len(msgs) != 2 || msgs[0].Text != "status 1" || msgs[1].Text != "перезагрузка" || msgs[1].Problem != "" {
		t.Fatalf("after another login replaced the key: %+v %v", msgs, err)
	}
	if p := sim.Record().Posts[posts:]; len(p) != 1 || p[0].GoformID != "web_http_enstr_set" {
		t.Errorf("posts after the key was replaced: %+v, want one new key", p)
	}
	// A key replaced between listing and send: refused, new key, sent once.
	sim.OtherWebLogin()
	if err := m.Send(ctx, "+21612345678", "again"); err != nil {
		t.Fatal(err)
	}
	if sent := sim.Record().Sent; len(sent) != 2 || sent[1].Text != "again" {
		t.Errorf("sent %+v", sent)
	}
	// The simulator refuses a plaintext send.
	m2, _ := NewModem(ModemConfig{URL: sim.URL, Password: "pw", Timeout: 2 * time.Second})
	m2.now = clk.Now
	m2.red.probed = true // as a client that does not know RED
	if err := m2.Send(ctx, "+21612345678", "plain"); err == nil {
		t.Error("a plaintext send was taken by RED firmware")
	}
}

// While a record does not decrypt it is listed incomplete: nothing acts
// on it, marks or deletes it.
func TestUndecryptableRecordIsIncomplete(t *testing.T) {
	m, _ := NewModem(ModemConfig{URL: "http://127.0.0.1:1"})
	m.red.probed, m.red.on = true, true
	key := make([]byte, 32)
	other, _ := redCipher(key)
	key[0] = 1
	m.red.aead, _ = redCipher(key)
	sealed, _ := redSealRandom(other, "00720065")
	sealedNumber, _ := redSealRandom(other, "+15551234567")
	rec := map[string]any{"id": "5", "tag": "1", "number": sealedNumber, "content": sealed, "received_all_concat_sms": "1"}
	problem := m.prepareRecord(rec)
	s, ok := decodeRecord(rec, "device")
	if !ok || s.Complete || s.Text != "" || s.From != "" || problem == "" || m.red.stale != 1 {
		t.Errorf("%+v, problem %q", s, problem)
	}
}

func FuzzRedOpen(f *testing.F) {
	f.Add("AAAAAAAAAAAAAAABSKexKUmVSU8GqNKaRbvH+CXmi8R0xAYn")
	f.Add("-----BEGIN PUBLIC KEY-----MIIB-----END PUBLIC KEY-----")
	key := make([]byte, 32)
	aead, _ := redCipher(key)
	f.Fuzz(func(t *testing.T, v string) {
		looksSealed(v)
		if p, ok := redOpen(aead, v); ok && len(p) > len(v) {
			t.Fatalf("%q opened to more than it holds", v)
		}
		parseRedPEM(v)
	})
}

// The daemon on RED firmware: a command listed sealed under a key another
// web login replaced is read after a new key, run once, answered once,
// with one log line.
func TestGatewayMC889KeyReplaced(t *testing.T) {
	h := newHarness(t, "mc889", nil)
	first := h.send(owner, "ping")
	h.step() // plaintext listing, the reply registers a key
	h.sim.OtherWebLogin()
	second := h.send(owner, "status")
	h.step()
	h.step()
	for _, id := range []int64{first, second} {
		if got := h.decision(id); got != "executed" {
			t.Errorf("sms %d: %s", id, got)
		}
	}
	if r := h.replies(); len(r) != 2 {
		t.Errorf("replies %q", r)
	}
	if inbox := h.sim.Inbox(); len(inbox) != 0 {
		t.Errorf("inbox %v", inbox)
	}
}
