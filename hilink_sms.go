package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// hilinkPage is how many records one sms-list asks for: clients use up to
// 50 (§6).
const hilinkPage = 50

// Box types of sms-list (§6).
const (
	boxLocalInbox = "1"
	boxSIMInbox   = "5"
)

// Inbox lists the device inbox, and the SIM inbox when sms-count says it
// holds messages. Pages are read until one comes back short, whatever
// Count means (page or box total: unsettled, §6), within what the device
// can hold.
func (m *hilinkModem) Inbox(ctx context.Context) ([]SMS, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.readCount(ctx); err != nil {
		return nil, fmt.Errorf("inbox: %w", err)
	}
	out, err := m.listBox(ctx, boxLocalInbox, "device")
	if err != nil {
		return nil, err
	}
	if m.simInbox > 0 {
		sim, err := m.listBox(ctx, boxSIMInbox, "sim")
		if err != nil {
			return nil, err
		}
		out = append(out, sim...)
	}
	if repeatsID(out) {
		// One rule over the whole inbox, both boxes (an Index in each
		// is one id to delete-sms): dedupeByID keeps one record per
		// message, the longest, and every different message under an
		// id (SMS.Shared). In id order then, as the other families list.
		out = dedupeByID(out)
	}
	return out, nil
}

// repeatsID says whether an id is listed more than once.
func repeatsID(msgs []SMS) bool {
	seen := make(map[int64]bool, len(msgs))
	for _, s := range msgs {
		if seen[s.ID] {
			return true
		}
		seen[s.ID] = true
	}
	return false
}

func (m *hilinkModem) listBox(ctx context.Context, box, store string) ([]SMS, error) {
	bound := m.capTotal + hilinkPage
	if m.capTotal <= 0 {
		bound = 1000
	}
	// seen: the records listed under each index. The very same record
	// listed again (one that moved between pages, a device that ignores
	// PageIndex) is skipped; any other under the same index is kept for
	// Inbox's dedupeByID, which keeps one per message and every message
	// (SMS.Shared): none vanishes unseen.
	seen := map[int64][]SMS{}
	var out []SMS
	for page := 1; ; page++ {
		if page > bound/hilinkPage+2 {
			// A device that ignores PageIndex answers the same full page
			// for ever.
			return nil, fmt.Errorf("inbox: box %s still full at page %d: %w", box, page, errInboxBound)
		}
		body := xmlRequest(xf("PageIndex", strconv.Itoa(page)), xf("ReadCount", strconv.Itoa(hilinkPage)), xf("BoxType", box),
			xf("SortType", "0"), xf("Ascending", "0"), xf("UnreadPreferred", "0"))
		var recs []hilinkMsg
		var bad int
		_, err := m.withRecovery(ctx, func() (*xmlNode, error) {
			b, err := m.postRaw(ctx, "/api/sms/sms-list", body)
			if err != nil {
				return nil, err
			}
			recs, bad, err = parseSMSList(b)
			return nil, err
		})
		if err != nil {
			return nil, fmt.Errorf("inbox: list box %s page %d: %w", box, page, err)
		}
		if bad > 0 {
			m.log.Warn("modem listed messages without a usable Index; they cannot be deleted", "family", familyHiLink, "count", bad)
		}
		for _, r := range recs {
			s := m.decodeMsg(r, store)
			if slices.ContainsFunc(seen[r.Index], func(o SMS) bool { return sameMessage(o, s) && o.Text == s.Text }) {
				continue
			}
			seen[r.Index] = append(seen[r.Index], s)
			out = append(out, s)
		}
		if len(out) > bound {
			return nil, fmt.Errorf("inbox: %d messages in box %s: %w", len(out), box, errInboxBound)
		}
		if len(recs)+bad < hilinkPage {
			return out, nil
		}
	}
}

// postRaw posts with a fresh token and returns the body unparsed.
func (m *hilinkModem) postRaw(ctx context.Context, path string, body []byte) ([]byte, error) {
	tok, err := m.token(ctx)
	if err != nil {
		return nil, fmt.Errorf("POST %s: %w: %w", path, errNotSent, err)
	}
	b, err := m.exchange(ctx, "POST", path, body, tok)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// hilinkDate is sms-list's Date: no zone (§6; read as the Pi's local time,
// which the owner sets as the network's).
const hilinkDate = "2006-01-02 15:04:05"

// decodeMsg makes an SMS of a record. A delivery report (SmsType 7/8) is
// no one's message: it gets no sender, so that it is never taken for the
// owner's command.
func (m *hilinkModem) decodeMsg(r hilinkMsg, store string) SMS {
	s := SMS{ID: r.Index, From: strings.TrimSpace(r.Phone), Text: r.Content, RawDate: r.Date, Read: r.Smstat != "0",
		Complete: true, Store: store}
	if t, err := time.ParseInLocation(hilinkDate, r.Date, time.Local); err == nil {
		s.Time = t
	} else {
		s.Problem = "date " + strconv.Quote(clip(r.Date, 30)) + " unreadable"
	}
	switch r.SmsType {
	case "7", "8":
		s.Problem = "delivery report for " + clip(s.From, 40)
		s.From = ""
	case "2":
		// The device merges a long message's parts into one record as
		// they come (§6): left alone for a grace after first seen.
		at, ok := m.multiSeen[r.Index]
		if !ok && len(m.multiSeen) < 1000 {
			at = m.now()
			m.multiSeen[r.Index] = at
		}
		if !at.IsZero() && m.now().Sub(at) < m.multipartGrace {
			s.Complete = false
		}
	}
	return s
}

// Delete deletes messages one by one (whether delete-sms takes several
// Index elements is not known, §6); nil only when each was confirmed.
func (m *hilinkModem) Delete(ctx context.Context, ids ...int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for _, id := range ids {
		err := m.writeOK(ctx, "/api/sms/delete-sms", func() []byte { return xmlRequest(xf("Index", strconv.FormatInt(id, 10))) })
		if err != nil {
			errs = append(errs, fmt.Errorf("delete sms %d: %w", id, err))
			continue
		}
		delete(m.multiSeen, id)
	}
	return errors.Join(errs...)
}

// MarkRead marks messages read with set-read.
func (m *hilinkModem) MarkRead(ctx context.Context, ids ...int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for _, id := range ids {
		err := m.writeOK(ctx, "/api/sms/set-read", func() []byte { return xmlRequest(xf("Index", strconv.FormatInt(id, 10))) })
		if err != nil {
			errs = append(errs, fmt.Errorf("mark sms %d read: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// sendBody is send-sms's body in the web UI's order (§6); characters
// beyond the BMP go as CESU-8, as huawei-lte-api sends them.
func sendBody(number, text string, now time.Time) []byte {
	phones := "<Phone>" + xmlEscape(number) + "</Phone>"
	return xmlRequest(xf("Index", "-1"), xmlField{Name: "Phones", Value: phones, Raw: true}, xf("Sca", ""),
		xmlField{Name: "Content", Value: encodeCESU8(xmlEscape(text)), Raw: true},
		xf("Length", strconv.Itoa(utf8.RuneCountInString(text))), xf("Reserved", "1"), xf("Date", now.Format(hilinkDate)))
}

// Send sends one SMS and waits until send-status reports it sent. A lost
// answer to send-sms is errSendUnconfirmed: it is never posted twice.
func (m *hilinkModem) Send(ctx context.Context, number, text string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if number == "" || strings.ContainsAny(number, ";,<>&") {
		return fmt.Errorf("send sms: number %q unusable", number)
	}
	err := m.writeOK(ctx, "/api/sms/send-sms", func() []byte { return sendBody(number, text, m.now()) })
	switch {
	case err == nil:
	case hilinkCode(err) != 0:
		// The device answered and said no: errRefused, as every
		// family's refusal, so that alerts and forwards count it a try.
		return fmt.Errorf("send sms to %s: %w: %w", number, errRefused, err)
	case errors.Is(err, errNotSent) || errIsDial(err):
		return fmt.Errorf("send sms to %s: %w", number, err)
	default:
		return fmt.Errorf("send sms to %s: %w (%v)", number, errSendUnconfirmed, err)
	}
	return m.waitSent(ctx, number)
}

// waitSent polls send-status (§6) until the number is reported sent or
// failed.
func (m *hilinkModem) waitSent(ctx context.Context, number string) error {
	// Real time, whatever clock the client is given: this waits on the
	// device, and must end however the clock is set.
	deadline := time.Now().Add(m.sendLimit)
	last := "no send-status read"
	for {
		if err := sleepCtx(ctx, m.statusEvery); err != nil {
			return fmt.Errorf("send sms to %s: %w (%v)", number, errSendUnconfirmed, err)
		}
		n, err := m.read(ctx, "/api/sms/send-status")
		if err == nil {
			pending, suc, fail := n.field("Phone"), n.field("SucPhone"), n.field("FailPhone")
			switch {
			case strings.TrimSpace(pending) == "" && phoneIn(number, suc):
				return nil
			case strings.TrimSpace(pending) == "" && phoneIn(number, fail):
				return fmt.Errorf("send sms to %s: the modem reports it failed: %w", number, errRefused)
			}
			last = fmt.Sprintf("pending %q, sent %q, failed %q", clip(pending, 40), clip(suc, 40), clip(fail, 40))
		} else {
			last = err.Error()
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("send sms to %s: %w (send-status: %s)", number, errSendUnconfirmed, last)
		}
	}
}

// phoneIn says whether number is in a send-status list (';' or ','
// separated), comparing the last 9 digits: the device may rewrite the
// prefix.
func phoneIn(number, list string) bool {
	want := lastDigits(number, 9)
	if want == "" {
		return false
	}
	for _, p := range strings.FieldsFunc(list, func(r rune) bool { return r == ';' || r == ',' }) {
		if lastDigits(p, 9) == want {
			return true
		}
	}
	return false
}

func lastDigits(s string, n int) string {
	var d []byte
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			d = append(d, s[i])
		}
	}
	if len(d) > n {
		d = d[len(d)-n:]
	}
	return string(d)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Reboot restarts the device (device/control, Control 1: §7).
func (m *hilinkModem) Reboot(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	err := m.writeOK(ctx, "/api/device/control", func() []byte { return xmlRequest(xf("Control", "1")) })
	if err != nil {
		if hilinkCode(err) == 0 && !errors.Is(err, errNotSent) && !errIsDial(err) {
			return fmt.Errorf("reboot modem: answer lost, it may be restarting: %w", err)
		}
		return fmt.Errorf("reboot modem: %w", err)
	}
	m.dropSession()
	m.linkAt = time.Time{}
	return nil
}

// Reconnect switches mobile data off and on (dialup/mobile-dataswitch:
// §7) and says how the link ended.
func (m *hilinkModem) Reconnect(ctx context.Context) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.linkAt = time.Time{}
	sw := func(on string) error {
		return m.writeOK(ctx, "/api/dialup/mobile-dataswitch", func() []byte { return xmlRequest(xf("dataswitch", on)) })
	}
	if err := sw("0"); err != nil {
		return "", fmt.Errorf("reconnect: data off: %w", err)
	}
	if _, err := m.waitConn(ctx, func(c string) bool { return c != "901" && c != "900" }); err != nil {
		m.log.Warn("modem data link did not report down; switching it on all the same", "family", familyHiLink, "err", err)
	}
	if err := sw("1"); err != nil {
		return "", fmt.Errorf("reconnect: data on: %w", err)
	}
	f, err := m.waitConn(ctx, func(c string) bool { return c == "901" })
	if err != nil {
		return f.dataName(), fmt.Errorf("reconnect: %w", err)
	}
	return f.dataName(), nil
}

// waitConn reads monitoring/status until want holds for ConnectionStatus.
func (m *hilinkModem) waitConn(ctx context.Context, want func(string) bool) (linkFacts, error) {
	deadline := time.Now().Add(m.linkLimit) // real time, as waitSent's
	var f linkFacts
	for {
		n, err := m.read(ctx, "/api/monitoring/status")
		if err == nil {
			f = parseLinkFacts(n)
			if want(f.conn) {
				return f, nil
			}
		}
		if !time.Now().Before(deadline) {
			return f, fmt.Errorf("link still %s after %s", f.dataName(), m.linkLimit)
		}
		if err := sleepCtx(ctx, m.statusEvery); err != nil {
			return f, err
		}
	}
}
