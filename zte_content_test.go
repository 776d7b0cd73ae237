package main

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

func TestReadContent(t *testing.T) {
	for _, tc := range []struct {
		name, in, known string
		want            string // the text decodeContent then gives
		form            string
		problem         bool
	}{
		{"classic hex", "00480069", "", "Hi", contentHex, false},
		{"classic hex, modem known base64", "00480069", contentBase64, "Hi", contentHex, false},
		{"base64", "SGk=", "", "Hi", contentBase64, false},
		{"base64, modem known hex", "SGk=", contentHex, "Hi", contentBase64, false},
		{"base64 emoji", base64.StdEncoding.EncodeToString([]byte("ok 👍")), "", "ok 👍", contentBase64, false},
		{"base64 cyrillic", base64.StdEncoding.EncodeToString([]byte("перезагрузка")), "", "перезагрузка", contentBase64, false},
		{"hex surrogate pair", "D83DDC4D", "", "👍", contentHex, false},
		{"both ways, unknown", "aCB0", "", "\uACB0", contentHex, true},
		{"both ways, modem base64", "aCB0", contentBase64, "h t", contentBase64, false},
		{"both ways, modem hex", "aCB0", contentHex, "\uACB0", contentHex, false},
		{"neither", "zz!", "", "zz!", contentHex, false},
		{"unpadded base64 is not base64", "SGk", "", "SGk", contentHex, false},
		{"base64 of a control character", base64.StdEncoding.EncodeToString([]byte("a\x1bb")), "", "", contentHex, false},
		{"empty", "", contentBase64, "", contentHex, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := readContent(tc.in, tc.known)
			got, _ := decodeContent(r.Hex)
			if tc.want != "" && got != tc.want {
				t.Errorf("text %q, want %q", got, tc.want)
			}
			if r.Form != tc.form || (r.Problem != "") != tc.problem {
				t.Errorf("%+v, want form %s, problem %v", r, tc.form, tc.problem)
			}
		})
	}
}

// Every 4-character value that reads cleanly both ways (all of them: the
// hex digits are base64 letters) follows the rule: the modem's form when
// known, else hex with the other reading in the record's problem. The
// readings are computed here with the standard library alone.
func TestReadContentEveryFourCharacterAmbiguity(t *testing.T) {
	const digits = "0123456789ABCDEFabcdef"
	clean := func(s string) bool {
		for _, r := range s {
			if r == utf8.RuneError || r == 0 || (r != '\n' && r != '\r' && r != '\t' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r))) {
				return false
			}
		}
		return s != ""
	}
	both := 0
	var v [4]byte
	for i := 0; i < len(digits)*len(digits)*len(digits)*len(digits); i++ {
		n := i
		for k := range v {
			v[k] = digits[n%len(digits)]
			n /= len(digits)
		}
		s := string(v[:])
		raw, _ := hex.DecodeString(s)
		u := uint16(raw[0])<<8 | uint16(raw[1])
		hexText := string(utf16.Decode([]uint16{u}))
		hexOK := !utf16.IsSurrogate(rune(u)) && clean(hexText)
		b, err := base64.StdEncoding.DecodeString(s)
		b64OK := err == nil && utf8.Valid(b) && clean(string(b))
		if !hexOK || !b64OK || hexText == string(b) {
			continue
		}
		both++
		for _, r := range hexText {
			if r < 0x80 {
				t.Fatalf("%q reads both ways and its hex reading %q has ASCII: a wrong guess could read a command", s, hexText)
			}
		}
		for known, want := range map[string]string{"": hexText, contentHex: hexText, contentBase64: string(b)} {
			r := readContent(s, known)
			got, _ := decodeContent(r.Hex)
			if got != sanitizeText(want) || (r.Problem != "") != (known == "") {
				t.Fatalf("%q with the modem's form %q: %q (%+v), want %q", s, known, got, r, want)
			}
			if known == "" && !strings.Contains(r.Problem, "both") {
				t.Fatalf("%q: problem %q does not say it reads both ways", s, r.Problem)
			}
		}
	}
	if both == 0 {
		t.Fatal("no value reads both ways: the test checks nothing")
	}
	t.Logf("%d four-character values read both ways", both)
}

// The modem's form is learnt from a record that reads one way only, and
// then decides the records that read both ways.
func TestPrepareRecordLearnsTheForm(t *testing.T) {
	m, err := NewModem(ModemConfig{URL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	rec := map[string]any{"content": "aCB0"}
	if p := m.prepareRecord(rec); p == "" || rec["content"] != "aCB0" {
		t.Errorf("before learning: %v, %q", rec, p)
	}
	rec = map[string]any{"content": "SGk="}
	if p := m.prepareRecord(rec); p != "" || rec["content"] != "00480069" {
		t.Errorf("base64 record: %v, %q", rec, p)
	}
	rec = map[string]any{"content": "aCB0"}
	if p := m.prepareRecord(rec); p != "" || rec["content"] != "006800200074" {
		t.Errorf("after learning base64: %v, %q", rec, p)
	}
	// A hint from the web UI build decides before any record.
	m2, _ := NewModem(ModemConfig{URL: "http://127.0.0.1:1"})
	m2.contentHint = contentFormHint(`define(function(){var config={DEVICE:"ufi/u30air"};return config});`, "")
	rec = map[string]any{"content": "aCB0"}
	if p := m2.prepareRecord(rec); p != "" || rec["content"] != "006800200074" {
		t.Errorf("with the u30air hint: %v, %q", rec, p)
	}
}

func FuzzReadContent(f *testing.F) {
	for _, s := range []string{"00480069", "SGk=", "aCB0", "8J+RjQ==", "D83D", "====", ""} {
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, v, known string) {
		r := readContent(v, known)
		text, _ := decodeContent(r.Hex)
		if !utf8.ValidString(text) {
			t.Fatalf("%q: invalid UTF-8 out", v)
		}
		if r.Form == contentBase64 {
			b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
			if err != nil || sanitizeText(string(b)) != text {
				t.Fatalf("%q read as base64 %q, but it decodes to %q (%v)", v, text, b, err)
			}
		}
	})
}
