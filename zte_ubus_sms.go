package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// handshake registers a fresh AES key: zwrt_web.web_crt_get hands out the
// RSA key, web_http_enstr_set takes ours (§2.2). The key is device-wide:
// any other web login replaces it.
func (m *ubusModem) handshake(ctx context.Context) error {
	return m.withSession(ctx, func() error {
		crt, err := m.call(ctx, m.session, "zwrt_web", "web_crt_get", map[string]any{})
		if err != nil {
			return fmt.Errorf("read the modem's key: %w", err)
		}
		pemText, _ := crt["result"].(string)
		pub, err := parseRedPEM(pemText)
		if err != nil {
			return err
		}
		aead, enstr, err := newRedKey(pub)
		if err != nil {
			return err
		}
		if _, err := m.call(ctx, m.session, "zwrt_web", "web_http_enstr_set", map[string]any{"web_enstr": enstr}); err != nil {
			return fmt.Errorf("register sms encryption key: %w", err)
		}
		m.aead = aead
		return nil
	})
}

// Inbox lists device memory and the SIM apart ("mem_store=2 silently
// omits SIM messages"), opening envelopes. Records that look sealed and do
// not open mean another login replaced the key (or none was registered):
// a new key is registered and the inbox listed once more; what still does
// not open is listed incomplete, never acted on.
func (m *ubusModem) Inbox(ctx context.Context) ([]SMS, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	msgs, err := m.listAll(ctx)
	if err != nil || m.stale == 0 {
		return msgs, err
	}
	m.log.Warn("sms fields do not decrypt with smsgate's key (another web login replaced it?); registering a new one", "records", m.stale)
	if err := m.handshake(ctx); err != nil {
		return nil, fmt.Errorf("list sms: %w", err)
	}
	return m.listAll(ctx)
}

func (m *ubusModem) listAll(ctx context.Context) ([]SMS, error) {
	m.stale = 0
	var all []SMS
	for _, store := range []struct {
		mem  int
		name string
	}{{1, "device"}, {0, "sim"}} {
		for page := 0; ; page++ {
			res, err := m.wms(ctx, "zte_libwms_get_sms_data", map[string]any{"tags": 10, "page": page,
				"data_per_page": inboxPage, "mem_store": store.mem, "order_by": "order by id desc"})
			if err != nil {
				return nil, fmt.Errorf("list %s sms: %w", store.name, err)
			}
			list, _ := res["messages"].([]any)
			if len(all)+len(list) > maxInboxRecords {
				return nil, fmt.Errorf("list %s sms: %w", store.name, errInboxBound)
			}
			for _, item := range list {
				rec, _ := item.(map[string]any)
				if rec == nil {
					continue
				}
				problem, unreadable := m.open(rec)
				if s, ok := listedRecord(rec, store.name, problem, unreadable); ok {
					all = append(all, s)
				}
			}
			if len(list) < inboxPage {
				break
			}
		}
	}
	return dedupeByID(all), nil
}

// open opens a record's sealed number and content in place; unreadable:
// one did not open, and the record is listed incomplete and Unreadable.
func (m *ubusModem) open(rec map[string]any) (problem string, unreadable bool) {
	for _, k := range []string{"number", "content"} {
		v, _ := rec[k].(string)
		if !looksSealed(v) {
			continue
		}
		plain, ok := redOpen(m.aead, v)
		if !ok {
			m.stale++
			rec["received_all_concat_sms"], rec["content"] = "0", ""
			if n, _ := rec["number"].(string); looksSealed(n) {
				rec["number"] = ""
			}
			return k + " is encrypted with a key smsgate did not register (another web login replaced it?)", true
		}
		rec[k] = plain
	}
	return "", false
}

// ubusSMSTime is sms_time as YY;MM;DD;HH;MM;SS;+Z, in UTC: the offset is
// in quarter hours on a measured MU5250 and in hours in other clients
// (§2.5), and +0 reads the same in both.
func ubusSMSTime(t time.Time) string {
	t = t.UTC()
	return fmt.Sprintf("%02d;%02d;%02d;%02d;%02d;%02d;+0", t.Year()%100, int(t.Month()), t.Day(), t.Hour(), t.Minute(), t.Second())
}

// Send sends plaintext first: firmware that wants envelopes refuses it
// with "invalid argument" (nothing sent), firmware that does not would
// store an envelope as garbage (§2.4). Then sealed, with a fresh key once
// more if the sealed one is refused too.
func (m *ubusModem) Send(ctx context.Context, number, text string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	text, n := bmpOnly(text)
	if n > 0 {
		m.log.Warn("characters beyond the BMP (emoji) are sent as U+FFFD", "replaced", n)
	}
	args := map[string]any{"number": number, "sms_time": ubusSMSTime(m.now()), "message_body": encodeContent(text),
		"id": "-1", "encode_type": smsEncoding(text)}
	err := m.sendOnce(ctx, args)
	for try := 0; errors.Is(err, errUbusInvalidArg) && try < 2; try++ {
		if !m.sealSend {
			m.log.Info("modem refused a plaintext sms: it wants envelopes (AES-256-GCM)")
		}
		m.sealSend = true
		if err = m.handshake(ctx); err != nil {
			break
		}
		err = m.sendOnce(ctx, args)
	}
	if err != nil {
		return fmt.Errorf("send sms to %s: %w", number, err)
	}
	select {
	case <-ctx.Done():
		// The modem accepted it: it may go out (a SIGTERM restart must
		// not send it again).
		return fmt.Errorf("send sms to %s: %w: %w", number, errSendUnconfirmed, ctx.Err())
	case <-time.After(m.sendSettle):
	}
	if err := m.waitCmd(ctx, 4, 60*time.Second); err != nil {
		return fmt.Errorf("send sms to %s: %w: %w", number, errSendUnconfirmed, err)
	}
	return nil
}

func (m *ubusModem) sendOnce(ctx context.Context, args map[string]any) error {
	out := make(map[string]any, len(args))
	for k, v := range args {
		out[k] = v
	}
	if m.sealSend {
		if m.aead == nil {
			if err := m.handshake(ctx); err != nil {
				return err
			}
		}
		for _, k := range []string{"number", "message_body"} {
			s, err := redSealRandom(m.aead, args[k].(string))
			if err != nil {
				return err
			}
			out[k] = s
		}
	}
	_, err := m.wms(ctx, "zte_libwms_send_sms", out)
	return err
}

// waitCmd polls zwrt_wms_get_cmd_status until "3" (done) or "2" (failed).
func (m *ubusModem) waitCmd(ctx context.Context, cmd int, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	wait := m.statusEvery / 16
	for {
		res, err := m.wms(ctx, "zwrt_wms_get_cmd_status", map[string]any{"sms_cmd": cmd})
		if err != nil {
			return fmt.Errorf("status of sms command %d: %w", cmd, err)
		}
		r, _ := res["sms_cmd_status_result"].(string)
		switch strings.TrimSpace(r) {
		case "3":
			return nil
		case "2":
			return fmt.Errorf("modem reports sms command %d failed: %w", cmd, errRefused)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sms command %d not confirmed (last %q): %w", cmd, r, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, m.statusEvery)
	}
}

// Delete deletes and returns once a listing shows the messages gone: no
// ubus delete confirmation is in the notes.
func (m *ubusModem) Delete(ctx context.Context, ids ...int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	out, err := m.wms(ctx, "zwrt_wms_delete_sms", map[string]any{"id": idList(ids)})
	if err != nil {
		return fmt.Errorf("delete sms %s: %w", idList(ids), err)
	}
	if r, _ := out["result"].(string); r == "failure" {
		return fmt.Errorf("delete sms %s: %w", idList(ids), errRefused)
	}
	// Real time, whatever clock the client is given: this waits on the
	// modem, and ends however the clock is set.
	deadline := time.Now().Add(15 * time.Second)
	for {
		msgs, err := m.listAll(ctx)
		if err != nil {
			return fmt.Errorf("delete sms %s: confirm: %w", idList(ids), err)
		}
		left := 0
		for _, s := range msgs {
			for _, id := range ids {
				if s.ID == id {
					left++
				}
			}
		}
		if left == 0 {
			return nil
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("delete sms %s: %d still listed: %w", idList(ids), left, errRefused)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("delete sms %s: %w", idList(ids), ctx.Err())
		case <-time.After(m.statusEvery):
		}
	}
}

// MarkRead: zwrt_wms_modify_tag exists, its arguments are not in the
// notes.
func (m *ubusModem) MarkRead(ctx context.Context, ids ...int64) error {
	return fmt.Errorf("mark read sms %s: %w", idList(ids), errUnsupported)
}

// Capacity reads zwrt_wms_get_wms_capacity; its keys are taken to be
// sms_capacity_info's (a GUESS: the notes name the method only).
func (m *ubusModem) Capacity(ctx context.Context) (Capacity, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	res, err := m.wms(ctx, "zwrt_wms_get_wms_capacity", map[string]any{})
	if err != nil {
		return Capacity{}, fmt.Errorf("sms capacity: %w", err)
	}
	return parseCapacity(res)
}

// Poll reads the storage counters: they change when a message arrives.
// The link state is not read (no documented method) and reported up.
func (m *ubusModem) Poll(ctx context.Context) (PollState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	res, err := m.wms(ctx, "zwrt_wms_get_wms_capacity", map[string]any{})
	if err != nil {
		return PollState{}, fmt.Errorf("poll: %w", err)
	}
	get := func(k string) string { s, _ := res[k].(string); return s }
	return PollState{Unread: get("sms_nv_rev_total") + "/" + get("sms_sim_rev_total") + "/" + get("sms_nvused_total"),
		Connected: true, SIMReady: true, Registered: true, DataUp: true}, nil
}

func (m *ubusModem) Status(ctx context.Context) (ModemStatus, error) {
	return ModemStatus{Network: "unknown (not read on ubus firmware)", Bars: -1, DataUp: true, SIMReady: true}, nil
}

func (m *ubusModem) Reboot(ctx context.Context) error {
	return fmt.Errorf("reboot modem: %w", errUnsupported)
}

func (m *ubusModem) Reconnect(ctx context.Context) (string, error) {
	return "", fmt.Errorf("reconnect: %w", errUnsupported)
}

func (m *ubusModem) Info() PortInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	gen := "zwrt_wms, plaintext"
	if m.sealSend || m.aead != nil {
		gen = "zwrt_wms, AES-256-GCM envelopes"
	}
	return PortInfo{Family: familyUbus, Generation: gen, Login: "sha256(sha256(pw)+salt)",
		Encrypted: m.sealSend || m.aead != nil, LoggedIn: m.session != ""}
}
