package main

import (
	"context"
	"fmt"
	"strings"
)

// Generations of the goform API smsgate tells apart (zte-newer.md §0).
const (
	genClassic = "classic (UTF-16 hex inbox)"
	genF50     = "f50 / u30 air (base64 utf-8 inbox)"
	genRED     = "red encryption (AES-256-GCM envelopes)"
	genZXIC    = "zxic reqproc (/reqproc/proc_get, proc_post)"
)

// generationName is the generation seen so far. Called with m.mu held or
// from Detected.
func (m *Modem) generationName() string {
	switch {
	case m.red.on:
		return genRED
	case m.contentForm == contentBase64 || (m.contentForm == "" && m.contentHint == contentBase64):
		return genF50
	case m.reqproc:
		return genZXIC
	}
	return genClassic
}

// redactedPEM says whether an answer's value holds a PEM key: a capture
// never writes it.
func redactedPEM(s string) bool {
	return strings.Contains(s, "-----BEGIN") || strings.Contains(s, "KEY-----")
}

// generationCheck is doctor's line on the generation and encryption: it
// asks for the modem's key (a read, in the session doctor has) when the
// inbox did not already tell.
func (m *Modem) generationCheck(ctx context.Context) check {
	m.mu.Lock()
	var err error
	if !m.red.probed {
		err = m.redProbe(ctx)
	}
	gen, on, keyed, probed := m.generationName(), m.red.on, m.red.aead != nil, m.red.probed
	m.mu.Unlock()
	enc := "encryption off (web_crt_get hands out no key)"
	switch {
	case err != nil:
		return check{"generation", levelWarn, gen + "; whether sms fields are encrypted is unknown: " + err.Error(),
			"run doctor -capture FILE and attach the file to a bug report"}
	case on && keyed:
		enc = "encryption ON: smsgate registered its key (another web login replaces it; smsgate then registers a new one)"
	case on:
		enc = "encryption ON: smsgate registers its key before it lists or sends"
	case !probed:
		enc = "encryption unknown (web_crt_get answered blank)"
	}
	return check{"generation", levelOK, fmt.Sprintf("%s; %s", gen, enc), ""}
}
