package main

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The F50 / U30 Air list `content` as base64 of UTF-8, every other ZTE
// firmware as UTF-16BE hex, and no flag says which (zte-newer.md §3.1).
// The hex digits are all base64 letters, so a value can read both ways
// ("aCB0" is "h t" in base64 and U+ACB0 in hex). The rule, the same for
// every record:
//
//  1. A value that decodes cleanly in one form only is read in that form.
//     Clean: hex is whole 4-digit units with no NUL, no lone surrogate and
//     no control character; base64 is padded standard base64 of valid
//     UTF-8 with no NUL and no control character (line breaks and tabs
//     allowed in both).
//  2. Such a record teaches the modem's form, kept for its next records
//     (a config.js of the U30 Air build, or an F50/U30 model name, teach
//     base64 before any record).
//  3. A value clean both ways is read in the form the modem was seen to
//     use. Before any is known it is read as UTF-16 hex, the form of every
//     firmware but the F50 family, and the record's problem names the
//     other reading, so the log shows both.
//  4. A value clean in neither form is left to the hex decoder, which
//     shows what it can and says what was wrong.
//
// A wrong guess in 3 cannot make a command: text of ASCII characters is
// "00xx" units in hex, and a base64 value starting "00" is a UTF-8 lead
// byte followed by no continuation byte, never clean; the hex reading of a
// base64 value is CJK or other non-ASCII letters. TestReadContentEvery
// FourCharacterAmbiguity goes through every 4-character value.

const (
	contentHex    = "utf-16 hex"
	contentBase64 = "base64 utf-8"
)

// contentReading is how one record's content was read.
type contentReading struct {
	Hex     string // the UTF-16 hex for decodeContent: the value, or the base64 text re-encoded
	Form    string // contentHex or contentBase64
	Taught  bool   // the value was clean in this form only
	Problem string // both forms read cleanly and the modem's form was unknown
}

// readContent reads a listed content under the rule above; known is the
// form the modem was seen to use, "" when unknown.
func readContent(v, known string) contentReading {
	v = strings.TrimSpace(v)
	hexText, hexOK := hexReading(v)
	b64Text, b64OK := base64Reading(v)
	switch {
	case b64OK && !hexOK:
		return contentReading{Hex: encodeContent(b64Text), Form: contentBase64, Taught: true}
	case hexOK && !b64OK:
		return contentReading{Hex: v, Form: contentHex, Taught: true}
	case hexOK && b64OK && hexText != b64Text:
		if known == contentBase64 {
			return contentReading{Hex: encodeContent(b64Text), Form: contentBase64}
		}
		r := contentReading{Hex: v, Form: contentHex}
		if known == "" {
			r.Problem = fmt.Sprintf("content reads both as utf-16 hex and as base64 (%q); read as hex, the modem's form not yet known", clip(b64Text, 40))
		}
		return r
	}
	return contentReading{Hex: v, Form: contentHex}
}

// hexReading decodes whole UTF-16BE hex units; ok only when clean.
func hexReading(v string) (string, bool) {
	if v == "" || len(v)%4 != 0 || !isHex(v) || len(v)/4 > maxContentUnits {
		return "", false
	}
	units := make([]uint16, 0, len(v)/4)
	for i := 0; i < len(v); i += 4 {
		u, _ := strconv.ParseUint(v[i:i+4], 16, 16)
		units = append(units, uint16(u))
	}
	for i, u := range units {
		if u >= 0xD800 && u < 0xDC00 && (i+1 == len(units) || units[i+1] < 0xDC00 || units[i+1] > 0xDFFF) {
			return "", false
		}
		if u >= 0xDC00 && u <= 0xDFFF && (i == 0 || units[i-1] < 0xD800 || units[i-1] >= 0xDC00) {
			return "", false
		}
	}
	text := string(utf16.Decode(units))
	return text, cleanText(text)
}

// base64Reading decodes padded standard base64 of UTF-8; ok only when
// clean.
func base64Reading(v string) (string, bool) {
	if v == "" || len(v)%4 != 0 || len(v) > 4*maxContentUnits {
		return "", false
	}
	b, err := base64.StdEncoding.Strict().DecodeString(v)
	if err != nil || !utf8.Valid(b) {
		return "", false
	}
	return string(b), cleanText(string(b))
}

// cleanText: something a person wrote, not binary read as text.
func cleanText(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r == utf8.RuneError || r == 0 || (r != '\n' && r != '\r' && r != '\t' && unsafeRune(r)) {
			return false
		}
	}
	return true
}

// contentFormHint is the form a modem's names say, "" when they say none:
// the U30 Air / F50 web UI build and model names list base64.
func contentFormHint(configJS, model string) string {
	s := strings.ToUpper(configJS + " " + model)
	for _, name := range []string{"U30AIR", "U30 AIR", "F50"} {
		if strings.Contains(s, name) {
			return contentBase64
		}
	}
	return ""
}

// prepareRecord rewrites a listed record's content into the UTF-16 hex
// decodeRecord reads, learning the modem's form on the way, and returns a
// problem to log with the record ("" none).
func (m *Modem) prepareRecord(rec map[string]any) string {
	problem, _ := m.prepareListed(rec)
	return problem
}

// prepareListed is prepareRecord, and says whether the record cannot be
// read now (an envelope that does not open): the SMS is then Unreadable.
func (m *Modem) prepareListed(rec map[string]any) (problem string, unreadable bool) {
	if problem, sealed := m.redUnwrap(rec); sealed {
		// Not readable now: listed incomplete and unreadable, so that
		// nothing acts on it, marks or deletes it, and the next listing
		// (with a new key) reads it.
		rec["received_all_concat_sms"], rec["content"] = "0", ""
		if n, _ := rec["number"].(string); looksSealed(n) {
			rec["number"] = "" // an envelope is no sender to log or match
		}
		return problem, true
	}
	v, ok := rec["content"].(string)
	if !ok {
		return "", false
	}
	known := m.contentForm
	if known == "" {
		known = m.contentHint
	}
	r := readContent(v, known)
	rec["content"] = r.Hex
	if r.Taught && r.Form != m.contentForm {
		if m.contentForm != "" || r.Form == contentBase64 {
			m.log.Info("modem lists sms content as "+r.Form, "before", m.contentForm)
		}
		m.contentForm = r.Form
	}
	return r.Problem, false
}
