package main

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
)

// "RED" encryption (MC888/MC889 and MF-series dongles such as the MF833,
// zte-newer.md §1): the listing's number and content, and SEND_SMS's
// Number and MessageBody, travel as base64(IV(12) ‖ tag(16) ‖ ciphertext)
// under AES-256-GCM with a key the client registers: 32 random bytes,
// written as 64 hex characters, wrapped with the modem's RSA key (PKCS#1
// v1.5) and posted as web_enstr. The key is device-wide on the ubus
// family, and no source says otherwise here: another web login replaces
// it, and the listing stops decrypting; smsgate then registers a new one.

// redState is what the client knows of the modem's encryption.
type redState struct {
	probed bool           // web_crt_get was answered in a session
	on     bool           // the modem handed out a public key
	pub    *rsa.PublicKey // its key
	aead   cipher.AEAD    // the registered key's cipher, nil until registered
	stale  int            // records of the last listing that did not decrypt
}

var errRedKey = errors.New("sms encryption key")

// parseRedPEM reads the public key web_crt_get hands out: an SPKI PEM,
// often without its line breaks.
func parseRedPEM(s string) (*rsa.PublicKey, error) {
	_, body, ok := strings.Cut(s, "-----BEGIN PUBLIC KEY-----")
	body, _, ok2 := strings.Cut(body, "-----END PUBLIC KEY-----")
	if !ok || !ok2 {
		return nil, fmt.Errorf("%w: no PEM public key in the answer", errRedKey)
	}
	body = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' || r == '\\' {
			return -1
		}
		return r
	}, strings.ReplaceAll(body, `\n`, ""))
	der, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("%w: PEM body: %w", errRedKey, err)
	}
	pub, err := parseSPKIRSA(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errRedKey, err)
	}
	if pub.N.BitLen() < 1024 || pub.N.BitLen() > 8192 {
		return nil, fmt.Errorf("%w: RSA key of %d bits", errRedKey, pub.N.BitLen())
	}
	return pub, nil
}

// newRedKey makes an AES-256 key and what is posted to register it: the
// key as 64 lower-case hex characters, RSA-wrapped, in base64.
func newRedKey(pub *rsa.PublicKey) (aead cipher.AEAD, webEnstr string, err error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, "", fmt.Errorf("%w: %w", errRedKey, err)
	}
	//lint:ignore SA1019 the firmware wraps the key with PKCS #1 v1.5 and knows no OAEP (zte-newer.md §1.3)
	wrapped, err := rsa.EncryptPKCS1v15(rand.Reader, pub, []byte(hex.EncodeToString(key)))
	if err != nil {
		return nil, "", fmt.Errorf("%w: wrap: %w", errRedKey, err)
	}
	aead, err = redCipher(key)
	if err != nil {
		return nil, "", err
	}
	return aead, base64.StdEncoding.EncodeToString(wrapped), nil
}

func redCipher(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errRedKey, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errRedKey, err)
	}
	return aead, nil
}

// redSeal is the envelope of plain under aead with iv (12 bytes).
func redSeal(aead cipher.AEAD, iv []byte, plain string) string {
	sealed := aead.Seal(nil, iv, []byte(plain), nil) // ciphertext ‖ tag
	ct, tag := sealed[:len(sealed)-16], sealed[len(sealed)-16:]
	out := make([]byte, 0, 12+len(sealed))
	out = append(append(append(out, iv...), tag...), ct...)
	return base64.StdEncoding.EncodeToString(out)
}

// redSealRandom seals with a fresh random IV, as every field needs.
func redSealRandom(aead cipher.AEAD, plain string) (string, error) {
	iv := make([]byte, 12)
	if _, err := rand.Read(iv); err != nil {
		return "", fmt.Errorf("%w: %w", errRedKey, err)
	}
	return redSeal(aead, iv, plain), nil
}

// looksSealed says whether a listed value is an envelope rather than the
// classic plain number or hex, or the F50's base64 text: standard base64
// of at least IV and tag, not all hex digits, and not UTF-8 text (28 or
// more random bytes are never clean text).
func looksSealed(v string) bool {
	v = strings.TrimSpace(v)
	if len(v) < 40 || len(v)%4 != 0 || isHex(v) {
		return false
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(v)
	return err == nil && len(raw) >= 28 && !cleanText(string(raw))
}

// redOpen opens an envelope: IV ‖ tag ‖ ciphertext as the notes say, then
// IV ‖ ciphertext ‖ tag (a client's compatibility fallback, §1.4).
func redOpen(aead cipher.AEAD, v string) (string, bool) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
	if err != nil || len(raw) < 28 || aead == nil {
		return "", false
	}
	iv, tag, ct := raw[:12], raw[12:28], raw[28:]
	if p, err := aead.Open(nil, iv, append(append([]byte(nil), ct...), tag...), nil); err == nil {
		return string(p), true
	}
	if p, err := aead.Open(nil, iv, raw[12:], nil); err == nil {
		return string(p), true
	}
	return "", false
}

// redUnwrap opens a listed record's number and content in place. It
// returns a problem for the log when a value that looks sealed does not
// open: the key was replaced, and the record cannot be read now.
func (m *Modem) redUnwrap(rec map[string]any) (problem string, sealed bool) {
	for _, k := range []string{"number", "content"} {
		v, _ := rec[k].(string)
		if !looksSealed(v) || (m.red.probed && !m.red.on) {
			// Plain, or long base64 content (the F50) on a modem that
			// has said it has no RED encryption.
			continue
		}
		plain, ok := redOpen(m.red.aead, v)
		if !ok {
			m.red.stale++
			return k + " is encrypted with a key smsgate did not register (another web login replaced it?)", true
		}
		rec[k] = plain
	}
	return "", false
}

// redProbe asks for the modem's public key, in a session (whether the
// firmware answers without one is not known). A blank answer without a
// session says nothing; one in a session without a PEM says "no RED".
func (m *Modem) redProbe(ctx context.Context) error {
	v, err := m.getJSON(ctx, url.Values{"cmd": {"web_crt_get"}})
	if err != nil && !noSession(err) {
		return fmt.Errorf("read web_crt_get: %w", err)
	}
	res, _ := v["result"].(string)
	if strings.Contains(res, "BEGIN PUBLIC KEY") {
		pub, err := parseRedPEM(res)
		if err != nil {
			return err
		}
		if !m.red.on {
			m.log.Info("modem encrypts sms fields (RED, AES-256-GCM); registering a key", "rsa_bits", pub.N.BitLen())
		}
		m.red.probed, m.red.on, m.red.pub = true, true, pub
		return nil
	}
	if err == nil && !m.sessionGone(ctx) {
		m.red.probed = true
	}
	return nil
}

// redReady makes sure the listing and sends can be read and written: on
// firmware with RED encryption, a key is registered. Called with m.mu held.
func (m *Modem) redReady(ctx context.Context) error {
	if m.red.probed && (!m.red.on || m.red.aead != nil) {
		return nil
	}
	if err := m.ensureSession(ctx); err != nil {
		return err
	}
	if !m.red.probed {
		if err := m.redProbe(ctx); err != nil || !m.red.on {
			return err
		}
	}
	aead, enstr, err := newRedKey(m.red.pub)
	if err != nil {
		return err
	}
	if err := m.action(ctx, "web_http_enstr_set", url.Values{"web_enstr": {enstr}}); err != nil {
		return fmt.Errorf("register sms encryption key: %w", err)
	}
	m.red.aead, m.red.stale = aead, 0
	return nil
}

// redRenew drops the registered key, so that the next redReady registers
// another.
func (m *Modem) redRenew() { m.red.aead = nil }

// redSealSend seals SEND_SMS's Number and MessageBody where the modem
// wants envelopes.
func (m *Modem) redSealSend(form url.Values) error {
	if !m.red.on {
		return nil
	}
	if m.red.aead == nil {
		return fmt.Errorf("%w: none registered", errRedKey)
	}
	for _, k := range []string{"Number", "MessageBody"} {
		s, err := redSealRandom(m.red.aead, form.Get(k))
		if err != nil {
			return err
		}
		form.Set(k, s)
	}
	return nil
}

// Inbox lists every message, opening RED envelopes. Firmware that never
// saw a key lists plaintext, so the listing itself says when a key is
// needed: when records look sealed and do not open (no key yet, or
// another web login replaced it), the modem's key is asked for, a new
// key registered and the inbox listed once more. A record that still does
// not open is listed incomplete, so nothing acts on it, marks or deletes
// it, and the next poll tries again.
func (m *Modem) Inbox(ctx context.Context) ([]SMS, error) {
	m.mu.Lock()
	m.red.stale = 0
	m.mu.Unlock()
	msgs, err := m.listInbox(ctx)
	m.mu.Lock()
	stale := m.red.stale
	m.mu.Unlock()
	if err != nil || stale == 0 {
		return msgs, err
	}
	m.mu.Lock()
	if m.red.on {
		m.log.Warn("sms fields do not decrypt with smsgate's key (another web login replaced it?); registering a new one", "records", stale)
	}
	m.redRenew()
	err = m.redReady(ctx)
	m.red.stale = 0
	m.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("list sms: %w", err)
	}
	return m.listInbox(ctx)
}

// sendForm posts SEND_SMS, sealed where the modem wants envelopes. A
// sealed send the modem refuses may have met a key another web login
// replaced: a refusal means not sent, so a new key is registered and it
// is posted once more.
func (m *Modem) sendForm(ctx context.Context, form url.Values) error {
	if err := m.redReady(ctx); err != nil {
		return err
	}
	plain := cloneValues(form)
	if err := m.redSealSend(form); err != nil {
		return err
	}
	err := m.action(ctx, "SEND_SMS", form)
	if err == nil || !m.red.on || !errors.Is(err, errRefused) {
		return err
	}
	m.log.Warn("modem refused an encrypted sms; registering a new key and sending once more", "err", err)
	m.redRenew()
	if err := m.redReady(ctx); err != nil {
		return err
	}
	if err := m.redSealSend(plain); err != nil {
		return err
	}
	return m.action(ctx, "SEND_SMS", plain)
}

// oidRSA is rsaEncryption, the algorithm of an SPKI RSA key.
var oidRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}

// parseSPKIRSA reads an SPKI RSA public key. Written with encoding/asn1
// rather than crypto/x509, which brings every certificate algorithm
// along (about 0.9 MB of the arm binary) for one key type.
func parseSPKIRSA(der []byte) (*rsa.PublicKey, error) {
	var spki struct {
		Algorithm struct {
			Algorithm  asn1.ObjectIdentifier
			Parameters asn1.RawValue `asn1:"optional"`
		}
		PublicKey asn1.BitString
	}
	if rest, err := asn1.Unmarshal(der, &spki); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("not an SPKI public key (%v)", err)
	}
	if !spki.Algorithm.Algorithm.Equal(oidRSA) {
		return nil, fmt.Errorf("key algorithm %v, not RSA", spki.Algorithm.Algorithm)
	}
	var k struct {
		N *big.Int
		E int
	}
	if rest, err := asn1.Unmarshal(spki.PublicKey.RightAlign(), &k); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("not an RSA public key (%v)", err)
	}
	if k.N == nil || k.N.Sign() <= 0 || k.E < 3 || k.E%2 == 0 {
		return nil, errors.New("RSA public key with a bad modulus or exponent")
	}
	return &rsa.PublicKey{N: k.N, E: k.E}, nil
}
