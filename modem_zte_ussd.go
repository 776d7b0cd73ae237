package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// USSD on the ZTE goform web UI, as the firmware's own service.js does it
// (docs/ussd-sources.md): post USSD_PROCESS with USSD_operator=ussd_send and
// USSD_send_number=CODE, read ussd_write_flag (without multi_data) every
// second while it says "15", and on "16" read ussd_data_info: ussd_data
// (UTF-16BE hex, as SMS content) and ussd_action ("0": the network ended
// the session; anything else: it waits for a reply). A session left open
// is closed with USSD_operator=ussd_cancel.

// zteUSSDFlags are the ussd_write_flag values that end a request without
// an answer, as the web UI names them.
var zteUSSDFlags = map[string]string{
	"1": "no service", "2": "network terminated the session", "10": "modem busy; try again",
	"41": "operation not supported", "99": "USSD not supported by this modem",
}

// USSD sends code and returns the network's answer. ctx bounds the wait;
// the caller gives it ussdWait.
func (m *Modem) USSD(ctx context.Context, code string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	form := url.Values{"USSD_operator": {"ussd_send"}, "USSD_send_number": {code}, "notCallback": {"true"}}
	if err := m.action(ctx, "USSD_PROCESS", form); err != nil {
		return "", fmt.Errorf("ussd %s: %w", code, err)
	}
	wait := max(m.statusEvery, time.Millisecond)
	for {
		flag, err := m.ussdRead(ctx, "ussd_write_flag")
		if err != nil {
			if dl, ok := ctx.Deadline(); ctx.Err() != nil || ok && !time.Now().Before(dl) {
				m.ussdCancel(code)
				return "", fmt.Errorf("ussd %s: %w", code, errUSSDNoAnswer)
			}
			return "", fmt.Errorf("ussd %s: %w", code, err)
		}
		switch f := flag["ussd_write_flag"]; {
		case f == "16":
			return m.ussdAnswer(ctx, code)
		case f == "3" || f == "4" || f == "unknown":
			return "", fmt.Errorf("ussd %s: modem says the network timed out: %w", code, errUSSDNoAnswer)
		case zteUSSDFlags[f] != "":
			err := fmt.Errorf("ussd %s: %s", code, zteUSSDFlags[f])
			if f == "99" || f == "41" {
				err = fmt.Errorf("ussd %s: %w", code, errUnsupported)
			}
			return "", err
		case f != "15" && f != "":
			return "", fmt.Errorf("ussd %s: modem says ussd_write_flag %q", code, f)
		}
		select {
		case <-ctx.Done():
			m.ussdCancel(code)
			return "", fmt.Errorf("ussd %s: %w", code, errUSSDNoAnswer)
		case <-time.After(wait):
		}
	}
}

// ussdRead reads one table-like key, without multi_data, in a session.
func (m *Modem) ussdRead(ctx context.Context, cmd string) (map[string]string, error) {
	out := map[string]string{}
	err := m.withSession(ctx, func() error {
		v, err := m.getJSON(ctx, url.Values{"cmd": {cmd}})
		if err != nil {
			return err
		}
		for k, x := range v {
			s, _ := x.(string)
			out[k] = strings.TrimSpace(s)
		}
		return nil
	})
	return out, err
}

// ussdAnswer reads the answer and closes a session the network left open.
func (m *Modem) ussdAnswer(ctx context.Context, code string) (string, error) {
	v, err := m.ussdRead(ctx, "ussd_data_info")
	if err != nil {
		return "", fmt.Errorf("ussd %s: answer: %w", code, err)
	}
	text, derr := decodeContent(v["ussd_data"])
	if derr != nil {
		m.log.Debug("ussd answer decoded with problems", "code", code, "err", derr)
	}
	if a := v["ussd_action"]; a != "" && a != "0" {
		m.ussdCancel(code) // a menu waits for a reply nobody will give
	}
	if text == "" {
		return "", fmt.Errorf("ussd %s: the answer is empty: %w", code, errRefused)
	}
	return text, nil
}

// ussdCancel closes the USSD session, within a few seconds of its own: the
// request's context may be spent. Its failure is only logged.
func (m *Modem) ussdCancel(code string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*m.timeout)
	defer cancel()
	err := m.action(ctx, "USSD_PROCESS", url.Values{"USSD_operator": {"ussd_cancel"}, "notCallback": {"true"}})
	if err != nil && !errors.Is(err, context.Canceled) {
		m.log.Warn("ussd session not closed", "code", code, "err", err)
	}
}
