package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"regexp"
	"strings"
	"unicode"
)

// tapWeb puts doctor's recorder between the HiLink client and the network,
// so that -capture holds the whole conversation, not only detection's
// probes.
func (m *hilinkModem) tapWeb(r *recorder) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r.next = m.web
	m.web = r
}

// xmlRedacted replaces the value of an element that carries an identity
// or a secret. The element stays, so that a replay answers with the same
// structure; "redacted" has no markup, so the XML stays plain.
const xmlRedacted = "redacted"

// xmlSecretNames are HiLink elements (lower case) whose values identify the
// device, the SIM or the owner, or open a session: replaced whatever they
// hold.
var xmlSecretNames = map[string]bool{
	"imei": true, "imsi": true, "iccid": true, "msisdn": true, "serialnumber": true, "sesinfo": true,
	"tokinfo": true, "token": true, "password": true, "username": true, "clientproof": true,
	"finalnonce": true, "firstnonce": true, "servernonce": true, "salt": true, "serversignature": true,
	"phone": true, "phones": true, "content": true, "sca": true, "pin": true, "puk": true, "newpin": true,
	"rsan": true, "rsae": true, "rsapubkeysignature": true, "ssid": true, "wifissid": true,
}

// xmlSecretParts: an element whose name holds one of these is redacted too
// (MacAddress1, WanIPAddress, PrimaryDns, WanIPv6Address, DefaultGateway...).
var xmlSecretParts = []string{"mac", "ipaddress", "ipv4", "ipv6", "dns", "gateway", "imei", "imsi", "iccid",
	"msisdn", "serial", "password", "passwd", "nonce", "proof", "token", "session", "cookie", "wifikey", "wpa",
	"phone", "number"}

// xmlDate is sms-list's Date: kept, the scrubber would take it for a
// number.
var xmlDate = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$`)

func xmlSecretName(name string) bool {
	low := strings.ToLower(name)
	if xmlSecretNames[low] {
		return true
	}
	if strings.HasSuffix(low, "type") {
		return false // password_type, BoxType: what kind, never whose
	}
	for _, p := range xmlSecretParts {
		if strings.Contains(low, p) {
			return true
		}
	}
	return false
}

// maxCapturedXML bounds a redacted XML body in a capture: an sms-list page
// of 50 messages fits.
const maxCapturedXML = 64 << 10

// errNotXML: the body is not an XML document (HTML, a cut answer).
var errNotXML = errors.New("not an XML document")

// redactXML rewrites an XML body (a HiLink request or answer) with the
// values of secret elements replaced and every other value scrubbed; the
// element names, their order and the whitespace between them stay.
// Attributes, comments and directives are dropped. It fails on what is not
// a well-formed XML document whose root is not html.
func redactXML(b []byte) (string, error) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] != '<' || len(t) > maxCapturedXML {
		return "", errNotXML
	}
	dec := xml.NewDecoder(bytes.NewReader(t))
	dec.Strict = true
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	var out strings.Builder
	var stack []string
	roots := 0
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", errNotXML
		}
		switch x := tok.(type) {
		case xml.ProcInst:
			if x.Target == "xml" {
				out.WriteString(`<?xml version="1.0" encoding="UTF-8"?>`)
			}
		case xml.StartElement:
			name := capXMLName(x.Name)
			if len(stack) == 0 {
				roots++
				if roots > 1 || strings.EqualFold(name, "html") {
					return "", errNotXML
				}
			}
			stack = append(stack, name)
			out.WriteString("<" + name + ">")
		case xml.EndElement:
			if len(stack) == 0 {
				return "", errNotXML
			}
			stack = stack[:len(stack)-1]
			out.WriteString("</" + capXMLName(x.Name) + ">")
		case xml.CharData:
			out.WriteString(xmlRedactText(stack, string(x)))
		}
	}
	if roots != 1 || len(stack) != 0 {
		return "", errNotXML
	}
	return out.String(), nil
}

// capXMLName is an element name as a capture keeps it: scrubbed like text, a
// name the scrubber changed becomes a neutral one.
func capXMLName(n xml.Name) string {
	name := n.Local
	if n.Space != "" {
		name = n.Space + ":" + n.Local
	}
	if scrubText(name) != name || strings.ContainsAny(name, "<>&\"' ") {
		return "redacted-name"
	}
	return name
}

// xmlRedactText is the capture's form of the text inside the innermost
// element of stack.
func xmlRedactText(stack []string, s string) string {
	if len(stack) == 0 {
		return "" // outside the document's element: nothing the device meant
	}
	// Control characters become spaces before anything is judged, so that
	// a capture redacted again reads the same: "0\x7f" is "0 ", a code.
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
			return ' '
		}
		return r
	}, s)
	if strings.TrimSpace(s) == "" {
		return strings.Map(func(r rune) rune { // whitespace as it came: the layout is a quirk
			if r == ' ' || r == '\n' || r == '\t' || r == '\r' {
				return r
			}
			return -1
		}, s)
	}
	for _, name := range stack {
		if xmlSecretName(name) {
			return xmlRedacted
		}
	}
	v := strings.TrimSpace(s)
	if xmlDate.MatchString(v) || (len(v) <= 6 && strings.Trim(v, "0123456789") == "") {
		return v // a date, an index, a count, a code: nobody's
	}
	return capXMLEscape(scrubText(s))
}

func capXMLEscape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// captureXML fills e with the redacted XML of a HiLink exchange: the
// request's body, the answer's body, and the token headers the answer
// handed out (their number only).
func captureXML(e *Exchange, req *webRequest, ans *webAnswer) {
	if len(req.Body) > 0 {
		if x, err := redactXML(req.Body); err == nil {
			e.Sent = x
		} else if bytes.HasPrefix(bytes.TrimSpace(req.Body), []byte("<")) {
			e.Sent = xmlRedacted // XML that did not parse: nothing of it
		}
	}
	if ans == nil {
		return
	}
	if x, err := redactXML(ans.Body); err == nil && ans.BodyErr == nil {
		e.Kind, e.Body, e.Text = "xml", nil, x
	}
	for h := range ans.Header {
		if strings.HasPrefix(h, "__requestverificationtoken") {
			n := len(strings.Split(ans.Header[h], "#"))
			e.Header[hilinkTokenHeaderName(h)] = strings.Repeat(xmlRedacted+"#", n-1) + xmlRedacted
		}
	}
}

// hilinkTokenHeaderName is the header's name as the devices spell it.
func hilinkTokenHeaderName(h string) string {
	return "__RequestVerificationToken" + map[string]string{"one": "one", "two": "two"}[strings.TrimPrefix(h, "__requestverificationtoken")]
}
