package main

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// The parsers of what a HiLink device answers must never panic, and what
// they return must be bounded and clean whatever the bytes.

func FuzzHiLinkAnswer(f *testing.F) {
	for _, s := range []string{
		`<?xml version="1.0" encoding="UTF-8"?><response><SesInfo>SessionID=abc</SesInfo><TokInfo>tok</TokInfo></response>`,
		"<?xml version=\"1.0\"?>\n<error>\n<code>125002</code>\n<message></message>\n</error>",
		"<error><code>108007</code><waittime>3</waittime></error>",
		"<response>OK</response>", "<response><a><![CDATA[x<y]]></a><b/>&#x1F600;&amp;</response>",
		"<html><body>", "{}", "", "<response><State>0</State><remainwaittime>99999999999</remainwaittime></response>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := parseHiLink(b)
		if err == nil {
			if n == nil || n.Name != "response" {
				t.Fatalf("answer without a response root: %+v", n)
			}
			if !utf8.ValidString(n.Text) {
				t.Fatalf("text not UTF-8: %q", n.Text)
			}
			st := parseLoginState(n)
			if sc, from := st.scheme(); sc == "" || from == "" {
				t.Fatalf("no scheme for %+v", st)
			}
			if st.Wait < 0 {
				t.Fatalf("negative wait %v", st.Wait)
			}
			if c, err := parseSMSCount(n); err == nil && (c.localUsed < 0 || c.localMax < 0) {
				t.Fatalf("negative count %+v", c)
			}
			if parseLinkFacts(n).dataName() == "" {
				t.Fatal("no name for the data link")
			}
		}
		isHiLinkAnswer(b)
	})
}

func FuzzHiLinkSMSList(f *testing.F) {
	f.Add([]byte("<response><Count>1</Count><Messages><Message><Smstat>0</Smstat><Index>40001</Index><Phone>+1</Phone><Content>A&amp;B \xed\xa0\xbd\xed\xb8\x80</Content><Date>2026-01-02 03:04:05</Date><SmsType>1</SmsType></Message></Messages></response>"))
	f.Add([]byte("<response><Count>0</Count><Messages></Messages></response>"))
	f.Add([]byte("<response><Count>0</Count></response>"))
	f.Add([]byte("<response><Messages><Message><Index>x</Index></Message></Messages></response>"))
	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, bad, err := parseSMSList(b)
		if err != nil && (len(msgs) > 0 || bad > 0) {
			t.Fatal("messages with an error")
		}
		if len(msgs) > xmlMaxNodes {
			t.Fatalf("%d messages", len(msgs))
		}
		for _, m := range msgs {
			if m.Index < 0 || !utf8.ValidString(m.Content) || !utf8.ValidString(m.Phone) {
				t.Fatalf("bad record %+v", m)
			}
		}
	})
}

func FuzzHiLinkTokens(f *testing.F) {
	f.Add("a#b#c#", "", "")
	f.Add("", "one", "two")
	f.Add("x\r\nSet-Cookie: y", "##", " ")
	f.Fuzz(func(t *testing.T, one, a, b string) {
		toks := answerTokens(map[string]string{tokenHeader: one, tokenHeaderOne: a, tokenHeaderTwo: b})
		if len(toks) > maxTokens {
			t.Fatalf("%d tokens", len(toks))
		}
		for _, tok := range toks {
			if tok == "" || strings.ContainsAny(tok, " #\r\n\t") || headerSafe(tok) != tok {
				t.Fatalf("token %q would not go back in a header", tok)
			}
		}
	})
}

func FuzzHiLinkCESU8(f *testing.F) {
	f.Add([]byte("a\xed\xa0\xbd\xed\xb8\x80b"))
	f.Add([]byte("\xed\xa0\x80"))
	f.Add([]byte("plain é"))
	f.Fuzz(func(t *testing.T, b []byte) {
		out := repairCESU8(b)
		if !utf8.Valid(out) {
			t.Fatalf("repair of %q is not UTF-8: %q", b, out)
		}
		if utf8.Valid(b) {
			if string(out) != string(b) {
				t.Fatalf("valid UTF-8 changed: %q -> %q", b, out)
			}
			if got := string(repairCESU8([]byte(encodeCESU8(string(b))))); got != string(b) {
				t.Fatalf("round trip %q -> %q", b, got)
			}
		}
	})
}
