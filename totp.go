package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// One-time codes as phone authenticator apps make them (RFC 6238 with its
// defaults): HMAC-SHA-1, 30 s steps, 6 digits.
const (
	totpPeriod = 30 * time.Second
	totpDigits = 6
	// totpSkew is how many steps either way a code may be from the
	// clock it is checked against: a phone's clock and the network's
	// differ a little, and typing takes time.
	totpSkew = 1
	// totpRemember is how many steps of used codes are remembered; a
	// code from before them is refused as too old, so that forgetting
	// cannot make a used code good again.
	totpRemember = 20
)

var (
	errCodeWrong   = errors.New("wrong code")
	errCodeUsed    = errors.New("code already used; wait for the next one")
	errCodeTooOld  = errors.New("code older than one already used")
	errCodeNoClock = errors.New("no plausible clock to check the code against")
)

// totp checks the one-time code that starts every command under -totp.
type totp struct {
	key []byte
}

func newTOTP(key []byte) *totp { return &totp{key: key} }

// parseTOTPSecret reads a base32 secret as authenticator apps show it:
// any case, with or without padding, spaces or dashes.
func parseTOTPSecret(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' || r == '=' {
			return -1
		}
		return r
	}, strings.ToUpper(strings.TrimSpace(s)))
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("SMSGATE_TOTP: not base32: %w", err)
	}
	// RFC 4226 asks for 128 bits at least; 80 is what some services hand
	// out. Anything shorter is a typo, not a secret.
	if len(key) < 10 {
		return nil, fmt.Errorf("SMSGATE_TOTP: %d bytes, want at least 10 (16 base32 characters); 'smsgate totp-new' makes one", len(key))
	}
	return key, nil
}

// hotp is RFC 4226's HOTP value of counter, digits long.
func hotp(key []byte, counter uint64, digits int) string {
	mac := hmac.New(sha1.New, key)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

func totpStep(t time.Time) int64 { return t.Unix() / int64(totpPeriod/time.Second) }

// check verifies the code that starts text, for the message msg (its id
// and fingerprint) sent at sent by the network's clock, with the Pi's
// clock at now. It returns the rest of the text. Either clock may be
// implausible (an SMS without a date, a Pi booted without network time):
// a code is good if it is within one step of a plausible one.
//
// used maps the steps whose codes were accepted to the message that used
// each: the same message looked at again (its removal deferred, or decided
// twice in a pass) is still good, another message with that code is a
// replay. check records an accepted code there and forgets steps older
// than totpRemember before the newest; a code from before them is refused.
func (t *totp) check(text, msg string, sent, now time.Time, used map[int64]string) (string, error) {
	code, rest := firstWord(text)
	if len(code) == 3 {
		// Apps show "123 456"; some owners type the space.
		if second, after := firstWord(rest); len(second) == 3 {
			code, rest = code+second, after
		}
	}
	var clocks []time.Time
	for _, c := range []time.Time{sent, now} {
		if c.Year() >= plausibleEpoch {
			clocks = append(clocks, c)
		}
	}
	if len(clocks) == 0 {
		return "", errCodeNoClock
	}
	step, ok := int64(0), false
	for _, c := range clocks {
		for s := totpStep(c) - totpSkew; s <= totpStep(c)+totpSkew; s++ {
			if s >= 0 && subtle.ConstantTimeCompare([]byte(code), []byte(hotp(t.key, uint64(s), totpDigits))) == 1 {
				step, ok = s, true
			}
		}
	}
	if !ok {
		return "", errCodeWrong
	}
	if by, ok := used[step]; ok {
		if by != msg {
			return "", errCodeUsed
		}
		return rest, nil
	}
	newest := int64(0)
	for s := range used {
		newest = max(newest, s)
	}
	if step <= newest-totpRemember {
		return "", errCodeTooOld
	}
	used[step] = msg
	for s := range used {
		if s <= max(newest, step)-totpRemember {
			delete(used, s)
		}
	}
	return rest, nil
}

// newTOTPSecret is a fresh 160-bit secret (RFC 4226's recommended size),
// base32 without padding, as apps take it.
func newTOTPSecret() string {
	key := make([]byte, 20)
	rand.Read(key) // never fails: it crashes the program first
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(key)
}

// totpURI is the otpauth:// URI an authenticator app reads (as a QR code
// or pasted).
func totpURI(secret, account string) string {
	label := url.PathEscape("smsgate:" + account)
	q := url.Values{"secret": {secret}, "issuer": {"smsgate"}, "algorithm": {"SHA1"},
		"digits": {fmt.Sprint(totpDigits)}, "period": {fmt.Sprint(int(totpPeriod / time.Second))}}
	return "otpauth://totp/" + label + "?" + q.Encode()
}

// copyOf says whether the message id with fingerprint fp is a copy of one
// whose code was accepted (used, as check keeps it): the network or the
// modem can deliver one SMS several times, same sender, date and text,
// under new ids. Such a copy is a duplicate, never a wrong code: counted
// as one, six copies would lock the owner out.
func copyOf(used map[int64]string, id int64, fp string) bool {
	self := strconv.FormatInt(id, 10) + "|" + fp
	for _, by := range used {
		if by != self && strings.HasSuffix(by, "|"+fp) {
			return true
		}
	}
	return false
}
