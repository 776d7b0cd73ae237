package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// USSD on HiLink (../shared/hilink.md §7): POST /api/ussd/send with, in
// this order, content, codeType, timeout (huawei-lte-api api/Ussd.py), then
// poll GET /api/ussd/get until it holds the answer (huawei-lte-api issue
// #200; pablo issues #15/#19: "These operations are ASYNC"). The answer is
// the <content> field of ussd/get (kenshaw/hilink UssdContent). The session
// is ended with GET /api/ussd/release (kenshaw/hilink UssdRelease; the
// router web UI's releaseUssd: "Must be called after getting a USSD
// result"). The notes do not say whether the device tells a menu from a
// final answer, nor what ussd/get answers while the network works, so:
// release after EVERY send, whatever came back; any 111xxx refusal other
// than "not supported" and an empty content mean "not yet"; the code is
// posted once and never again, even when its answer is lost.

// hilinkUSSDUnsupported: 111022 "net not support USSD" (telegram-sms
// error_code.go).
const hilinkUSSDUnsupported = 111022

// ussdBody is the send request, fields in huawei-lte-api's order (§1: some
// firmware is order sensitive). codeType's value is the one huawei-lte-api
// sends.
func ussdBody(code string) []byte {
	return xmlRequest(xf("content", code), xf("codeType", "CodeType"), xf("timeout", ""))
}

// USSD sends code and returns the network's answer; ctx bounds the wait
// (the caller gives it ussdWait).
func (m *hilinkModem) USSD(ctx context.Context, code string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if code == "" || len(code) > ussdMaxLen || strings.ContainsAny(code, "<>&") {
		return "", fmt.Errorf("ussd %q: not a USSD code", code)
	}
	err := m.writeOK(ctx, "/api/ussd/send", func() []byte { return ussdBody(code) })
	if hilinkCode(err) != 0 || errors.Is(err, errNotSent) {
		if hilinkCode(err) == hilinkUSSDUnsupported {
			return "", fmt.Errorf("ussd %s: %w", code, errUnsupported)
		}
		return "", fmt.Errorf("ussd %s: %w", code, err) // refused: nothing is open
	}
	// From here the code may be at the network, even when the answer to
	// send was lost: the session is released on every way out.
	defer m.ussdRelease(code)
	if err != nil {
		return "", fmt.Errorf("ussd %s: sent, answer lost (not sent again): %w", code, err)
	}
	return m.ussdAnswer(ctx, code)
}

// ussdAnswer polls ussd/get until it holds a non-empty content.
func (m *hilinkModem) ussdAnswer(ctx context.Context, code string) (string, error) {
	wait := max(m.statusEvery, time.Millisecond)
	for {
		n, err := m.read(ctx, "/api/ussd/get")
		switch c := hilinkCode(err); {
		case err != nil && ussdDue(ctx):
			return "", fmt.Errorf("ussd %s: %w", code, errUSSDNoAnswer)
		case c == hilinkUSSDUnsupported:
			return "", fmt.Errorf("ussd %s: %w", code, errUnsupported)
		case c >= 111001 && c <= 111099, c == 0 && err == nil && strings.TrimSpace(n.field("content")) == "":
			// not yet (111019 on some firmware, by one unnamed doc)
		case err != nil:
			return "", fmt.Errorf("ussd %s: read answer: %w", code, err)
		default:
			return strings.TrimSpace(n.field("content")), nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("ussd %s: %w", code, errUSSDNoAnswer)
		case <-time.After(wait):
		}
	}
}

// ussdRelease ends the USSD session within a few seconds of its own: the
// request's context may be spent. A failure is only logged.
func (m *hilinkModem) ussdRelease(code string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*m.timeout)
	defer cancel()
	n, err := m.read(ctx, "/api/ussd/release")
	if err == nil && strings.TrimSpace(n.Text) != "OK" {
		err = errors.New("answer is not OK")
	}
	if err != nil {
		m.log.Warn("ussd session not released", "family", familyHiLink, "code", code, "err", err)
	}
}

// ussdDue: ctx is spent, or its deadline passed (a request cut at the
// deadline may fail before ctx says so).
func ussdDue(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ctx.Err() != nil || ok && !time.Now().Before(dl)
}
