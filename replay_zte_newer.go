//go:build !nosim

package main

import "strings"

// replayNewer plays the newer generations a capture shows: RED encryption
// (the client said so, or web_crt_get handed out a key), the F50's base64
// inbox, a LOGIN answered with a bare number.
func (r *replaySpec) replayNewer(c *Capture, note func(string, ...any)) {
	det := c.Detected
	r.p.red = isTrue(det["encrypted"])
	r.p.contentBase64 = det["generation"] == genF50
	for _, e := range c.Exchanges {
		v := bodyObject(e)
		switch {
		case e.Path == "/reqproc/proc_get" && e.Kind != "html" && e.Status == 200:
			r.p.reqproc = true
		case e.Query["cmd"] == "web_crt_get" && v["result"] == "<redacted:pem>":
			r.p.red = true
		case e.Method == "POST" && (e.Form["goformId"] == "LOGIN" || e.Form["goformId"] == "LOGIN_MULTI_USER"):
			if _, ok := v["result"].(float64); ok {
				r.p.numericResult = true
			}
		}
	}
	if r.p.dupIDs && strings.Contains(r.p.configJS, "SMS_DATABASE_SORT_SUPPORT:true") {
		// The web UI shows a list with duplicate ids as it came only
		// when the database sorts: a modem that lists them says false.
		r.p.configJS = strings.Replace(r.p.configJS, "SMS_DATABASE_SORT_SUPPORT:true", "SMS_DATABASE_SORT_SUPPORT:false", 1)
	}
	if r.p.reqproc {
		note("the goform API under /reqproc/ (ZXIC-based dongle)")
	}
	if r.p.red {
		note("RED encryption: number and content in AES-256-GCM envelopes once a key is registered")
	}
	if r.p.contentBase64 {
		note("inbox content as base64 of UTF-8 (F50 / U30 Air)")
	}
	if r.p.numericResult {
		note("LOGIN answered with a bare number")
	}
}
