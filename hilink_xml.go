package main

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// HiLink answers are small XML documents (../shared/hilink.md §1):
// <response>fields</response> or <error><code>N</code></error>. They are
// read with the few lines below rather than encoding/xml, which refuses the
// CESU-8 the firmware writes for emoji and would add to the arm binary for
// documents this plain.

// xmlNode is one element: its text when it has no child elements.
type xmlNode struct {
	Name string
	Text string
	Kids []*xmlNode
}

// Bounds of what the reader accepts: a real answer is a few levels deep and
// at most a page of messages with ten fields each.
const (
	xmlMaxDepth = 8
	xmlMaxNodes = 20000
)

var (
	errXMLSyntax = errors.New("malformed XML")
	// errNotHiLink is an answer that is not HiLink's XML at all: an HTML
	// page (what some firmware serves for an unknown URL or a lost
	// session), JSON, or nothing.
	errNotHiLink = errors.New("not a HiLink XML answer")
)

// field is the text of the first child named name, "" when there is none.
func (n *xmlNode) field(name string) string {
	if k := n.kid(name); k != nil {
		return k.Text
	}
	return ""
}

func (n *xmlNode) kid(name string) *xmlNode {
	if n == nil {
		return nil
	}
	for _, k := range n.Kids {
		if k.Name == name {
			return k
		}
	}
	return nil
}

// has says whether a child named name is present, even empty.
func (n *xmlNode) has(name string) bool { return n.kid(name) != nil }

// xmlReader reads one document.
type xmlReader struct {
	s     string
	i     int
	nodes int
}

// parseXML reads a document into its root element. Text is unescaped;
// CESU-8 must be repaired before (repairCESU8).
func parseXML(b []byte) (*xmlNode, error) {
	r := &xmlReader{s: string(b)}
	if err := r.skipProlog(); err != nil {
		return nil, err
	}
	root, err := r.element(0)
	if err != nil {
		return nil, err
	}
	if err := r.skipMisc(); err != nil {
		return nil, err
	}
	if r.i != len(r.s) {
		return nil, fmt.Errorf("%w: content after the root element", errXMLSyntax)
	}
	return root, nil
}

// skipProlog skips a byte-order mark, the XML declaration, comments and
// white space before the root.
func (r *xmlReader) skipProlog() error {
	r.s = strings.TrimPrefix(r.s, "\ufeff")
	return r.skipMisc()
}

func (r *xmlReader) skipMisc() error {
	for {
		r.skipSpace()
		switch {
		case strings.HasPrefix(r.s[r.i:], "<?"):
			end := strings.Index(r.s[r.i:], "?>")
			if end < 0 {
				return fmt.Errorf("%w: unterminated declaration", errXMLSyntax)
			}
			r.i += end + 2
		case strings.HasPrefix(r.s[r.i:], "<!--"):
			end := strings.Index(r.s[r.i+4:], "-->")
			if end < 0 {
				return fmt.Errorf("%w: unterminated comment", errXMLSyntax)
			}
			r.i += 4 + end + 3
		default:
			return nil
		}
	}
}

func (r *xmlReader) skipSpace() {
	for r.i < len(r.s) && strings.IndexByte(" \t\r\n", r.s[r.i]) >= 0 {
		r.i++
	}
}

// element reads one element starting at '<'.
func (r *xmlReader) element(depth int) (*xmlNode, error) {
	if depth >= xmlMaxDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", errXMLSyntax, xmlMaxDepth)
	}
	if r.nodes++; r.nodes > xmlMaxNodes {
		return nil, fmt.Errorf("%w: more than %d elements", errXMLSyntax, xmlMaxNodes)
	}
	if r.i >= len(r.s) || r.s[r.i] != '<' {
		return nil, fmt.Errorf("%w: want an element at byte %d", errXMLSyntax, r.i)
	}
	end := strings.IndexByte(r.s[r.i:], '>')
	if end < 0 {
		return nil, fmt.Errorf("%w: unterminated tag", errXMLSyntax)
	}
	tag := r.s[r.i+1 : r.i+end]
	r.i += end + 1
	empty := strings.HasSuffix(tag, "/")
	tag = strings.TrimSuffix(tag, "/")
	name, _, _ := strings.Cut(tag, " ") // attributes: HiLink has none smsgate reads
	if !xmlName(name) {
		return nil, fmt.Errorf("%w: tag %q", errXMLSyntax, clip(name, 20))
	}
	n := &xmlNode{Name: name}
	if empty {
		return n, nil
	}
	var text strings.Builder
	for {
		lt := strings.IndexByte(r.s[r.i:], '<')
		if lt < 0 {
			return nil, fmt.Errorf("%w: <%s> not closed", errXMLSyntax, name)
		}
		text.WriteString(r.s[r.i : r.i+lt])
		r.i += lt
		rest := r.s[r.i:]
		switch {
		case strings.HasPrefix(rest, "</"):
			gt := strings.IndexByte(rest, '>')
			if gt < 0 || strings.TrimSpace(rest[2:gt]) != name {
				return nil, fmt.Errorf("%w: <%s> closed by something else", errXMLSyntax, name)
			}
			r.i += gt + 1
			if len(n.Kids) == 0 {
				t, err := xmlUnescape(text.String())
				if err != nil {
					return nil, fmt.Errorf("<%s>: %w", name, err)
				}
				n.Text = t
			}
			return n, nil
		case strings.HasPrefix(rest, "<![CDATA["):
			e := strings.Index(rest, "]]>")
			if e < 0 {
				return nil, fmt.Errorf("%w: unterminated CDATA", errXMLSyntax)
			}
			// Escaped so that the unescape at the end gives it back as it was.
			text.WriteString(xmlEscape(rest[9:e]))
			r.i += e + 3
		case strings.HasPrefix(rest, "<!--"):
			e := strings.Index(rest[4:], "-->")
			if e < 0 {
				return nil, fmt.Errorf("%w: unterminated comment", errXMLSyntax)
			}
			r.i += 4 + e + 3
		default:
			k, err := r.element(depth + 1)
			if err != nil {
				return nil, err
			}
			n.Kids = append(n.Kids, k)
		}
	}
}

func xmlName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '-' || c == '.' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

var xmlEntities = map[string]string{"amp": "&", "lt": "<", "gt": ">", "quot": `"`, "apos": "'"}

// xmlUnescape resolves the five named entities and character references.
func xmlUnescape(s string) (string, error) {
	if !strings.Contains(s, "&") {
		return s, nil
	}
	var b strings.Builder
	for {
		amp := strings.IndexByte(s, '&')
		if amp < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:amp])
		semi := strings.IndexByte(s[amp:], ';')
		if semi < 0 || semi > 12 {
			return "", fmt.Errorf("%w: bare &", errXMLSyntax)
		}
		ent := s[amp+1 : amp+semi]
		s = s[amp+semi+1:]
		if v, ok := xmlEntities[ent]; ok {
			b.WriteString(v)
			continue
		}
		var n uint64
		var err error
		switch {
		case strings.HasPrefix(ent, "#x") || strings.HasPrefix(ent, "#X"):
			n, err = strconv.ParseUint(ent[2:], 16, 32)
		case strings.HasPrefix(ent, "#"):
			n, err = strconv.ParseUint(ent[1:], 10, 32)
		default:
			err = errXMLSyntax
		}
		if err != nil || n == 0 || n > utf8.MaxRune {
			return "", fmt.Errorf("%w: entity &%s;", errXMLSyntax, clip(ent, 10))
		}
		b.WriteRune(rune(n)) // a lone surrogate becomes U+FFFD
	}
}

// xmlEscape makes s safe as element text.
func xmlEscape(s string) string {
	if !strings.ContainsAny(s, `&<>"'`) {
		return s
	}
	var b strings.Builder
	for _, c := range s {
		switch c {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&apos;")
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// repairCESU8 turns the CESU-8 the firmware writes for a character beyond
// the BMP (each UTF-16 surrogate as its own 3-byte sequence, §1) into
// UTF-8; whatever else is not UTF-8 becomes U+FFFD.
func repairCESU8(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		if hi, ok := surrogateAt(b, i); ok && hi >= 0xD800 && hi < 0xDC00 {
			if lo, ok := surrogateAt(b, i+3); ok && lo >= 0xDC00 {
				out = utf8.AppendRune(out, utf16.DecodeRune(hi, lo))
				i += 6
				continue
			}
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			n = max(n, 1)
			if _, ok := surrogateAt(b, i); ok {
				n = 3 // a lone surrogate: one replacement, not three
			}
		}
		out = utf8.AppendRune(out, r)
		i += n
	}
	return out
}

// surrogateAt decodes a 3-byte encoded UTF-16 surrogate at b[i:].
func surrogateAt(b []byte, i int) (rune, bool) {
	if i+3 > len(b) || b[i] != 0xED || b[i+1] < 0xA0 || b[i+1] > 0xBF || b[i+2]&0xC0 != 0x80 {
		return 0, false
	}
	return rune(0xD000 | rune(b[i+1]&0x3F)<<6 | rune(b[i+2]&0x3F)), true
}

// encodeCESU8 writes characters beyond the BMP as CESU-8, as
// huawei-lte-api sends them (§1): firmware that stores UTF-16 takes them so.
func encodeCESU8(s string) string {
	var b []byte
	for _, c := range s {
		if c <= 0xFFFF {
			b = utf8.AppendRune(b, c)
			continue
		}
		hi, lo := utf16.EncodeRune(c)
		for _, u := range []rune{hi, lo} {
			b = append(b, 0xED, byte(0x80|(u>>6)&0x3F), byte(0x80|u&0x3F))
		}
	}
	return string(b)
}

// hilinkError is an <error> answer.
type hilinkError struct {
	Code    int
	Message string
	// Wait is the SCRAM challenge's waittime in minutes when the login
	// is locked (§3.3), "" otherwise.
	Wait string
}

func (e *hilinkError) Error() string {
	s := fmt.Sprintf("modem error %d", e.Code)
	if m, ok := hilinkCodes[e.Code]; ok {
		s += " (" + m + ")"
	}
	if e.Message != "" {
		s += ": " + clip(e.Message, 80)
	}
	return s
}

// hilinkCodes are the error codes of ../shared/hilink.md §4.
var hilinkCodes = map[int]string{
	100001: "unknown", 100002: "not supported", 100003: "no rights, login required", 100004: "system busy",
	100005: "XML format error", 100006: "parameter error",
	108001: "username wrong", 108002: "password wrong", 108003: "already logged in", 108005: "too many users logged in",
	108006: "username or password wrong", 108007: "too many login attempts", 108010: "logins too frequent",
	115002: "password must be modified",
	113018: "SMS overtime", 113036: "delete failed", 113053: "local space not enough", 113054: "number too long",
	125001: "invalid token", 125002: "session error", 125003: "wrong session token",
}

// hilinkCode is the code of a HiLink error answer in err's chain, 0 if none.
func hilinkCode(err error) int {
	var he *hilinkError
	if errors.As(err, &he) {
		return he.Code
	}
	return 0
}

// parseHiLink reads an answer: the <response> element, or the <error> as
// a *hilinkError. Anything else is errNotHiLink.
func parseHiLink(b []byte) (*xmlNode, error) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return nil, fmt.Errorf("%w: empty answer", errNotHiLink)
	}
	root, err := parseXML(repairCESU8(t))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNotHiLink, err)
	}
	switch root.Name {
	case "response":
		return root, nil
	case "error":
		code, err := strconv.Atoi(strings.TrimSpace(root.field("code")))
		if err != nil {
			return nil, fmt.Errorf("%w: error without a numeric code", errNotHiLink)
		}
		return nil, &hilinkError{Code: code, Message: root.field("message"), Wait: strings.TrimSpace(root.field("waittime"))}
	}
	return nil, fmt.Errorf("%w: root element <%s>", errNotHiLink, clip(root.Name, 20))
}

// isHiLinkAnswer says whether body is what a HiLink device answers to GET
// /api/webserver/SesTokInfo: XML with a <response> (session and token) or
// an <error> with a code. A ZTE modem answers JSON or an HTML page there.
func isHiLinkAnswer(body []byte) bool {
	n, err := parseHiLink(body)
	if err != nil {
		return hilinkCode(err) != 0
	}
	return n.has("SesInfo") || n.has("TokInfo")
}

// Request bodies. Fields go in the order given: some firmware reads them
// by position (§1), and no white space goes between elements, which
// strict firmware refuses with 100005.

const xmlDecl = `<?xml version="1.0" encoding="UTF-8"?>`

// xmlField is one element of a request; Raw is already XML.
type xmlField struct {
	Name, Value string
	Raw         bool
}

func xmlRequest(fields ...xmlField) []byte {
	var b strings.Builder
	b.WriteString(xmlDecl + "<request>")
	writeXMLFields(&b, fields)
	b.WriteString("</request>")
	return []byte(b.String())
}

func writeXMLFields(b *strings.Builder, fields []xmlField) {
	for _, f := range fields {
		v := f.Value
		if !f.Raw {
			v = xmlEscape(v)
		}
		b.WriteString("<" + f.Name + ">" + v + "</" + f.Name + ">")
	}
}

func xf(name, value string) xmlField { return xmlField{Name: name, Value: value} }

// Token headers (§2): one token, a '#'-joined list after a password login,
// or two headers "one" and "two".
const (
	tokenHeader    = "__requestverificationtoken"
	tokenHeaderOne = "__requestverificationtokenone"
	tokenHeaderTwo = "__requestverificationtokentwo"
	// maxTokens bounds the list kept: RaspAP saw 30 after a login.
	maxTokens = 64
)

// answerTokens are the tokens an answer's headers hand out, in order.
func answerTokens(h map[string]string) []string {
	var out []string
	for _, name := range []string{tokenHeader, tokenHeaderOne, tokenHeaderTwo} {
		for _, t := range strings.Split(h[name], "#") {
			if t = strings.TrimSpace(t); validToken(t) && len(out) < maxTokens {
				out = append(out, t)
			}
		}
	}
	return out
}

// validToken: what goes back in a header must be printable and short.
func validToken(t string) bool {
	if t == "" || len(t) > 256 {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] >= 0x7f {
			return false
		}
	}
	return true
}

// hilinkMsg is one record of an sms-list answer.
type hilinkMsg struct {
	Index   int64
	Smstat  string
	Phone   string
	Content string
	Date    string
	SmsType string
}

// parseSMSList reads an sms-list answer. A record without a numeric Index
// cannot be deleted or marked: it is reported, not dropped silently.
func parseSMSList(b []byte) (msgs []hilinkMsg, bad int, err error) {
	n, err := parseHiLink(b)
	if err != nil {
		return nil, 0, err
	}
	box := n.kid("Messages")
	if box == nil {
		if !n.has("Count") {
			return nil, 0, fmt.Errorf("%w: sms-list answer without Count or Messages", errNotHiLink)
		}
		return nil, 0, nil
	}
	for _, k := range box.Kids {
		if k.Name != "Message" {
			continue
		}
		id, err := strconv.ParseInt(strings.TrimSpace(k.field("Index")), 10, 64)
		if err != nil || id < 0 {
			bad++
			continue
		}
		msgs = append(msgs, hilinkMsg{Index: id, Smstat: strings.TrimSpace(k.field("Smstat")), Phone: k.field("Phone"),
			Content: k.field("Content"), Date: strings.TrimSpace(k.field("Date")), SmsType: strings.TrimSpace(k.field("SmsType"))})
	}
	return msgs, bad, nil
}
