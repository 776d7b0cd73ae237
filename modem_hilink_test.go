package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// The adapter is a port, has doctor checks of its own, and keeps its count
// of refused logins in the state file.
var (
	_ modemPort     = (*hilinkModem)(nil)
	_ portDoctor    = (*hilinkModem)(nil)
	_ refusalKeeper = (*hilinkModem)(nil)
)

// TestHiLinkSimIsIndependent: the HiLink simulator uses nothing of the
// client's code (nor of the ZTE simulator's): a witness of the notes. Only
// the simulators' loopback listener (sim_listen.go) is shared.
func TestHiLinkSimIsIndependent(t *testing.T) {
	for _, f := range []string{"sim_hilink.go", "sim_hilink_ussd.go"} {
		if used := clientNamesUsed(t, f, "sim_hilink.go", "sim_hilink_ussd.go", "sim_listen.go"); len(used) > 0 {
			t.Errorf("%s uses %s", f, strings.Join(used, ", "))
		}
	}
}

var hilinkPersonalities = []string{"e3372h", "b618", "e3372-nologin"}

// startHiLink runs a simulator and a client for it, with short waits.
func startHiLink(t testing.TB, personality, simPassword, clientPassword string) (*HiLinkSim, *hilinkModem) {
	t.Helper()
	sim, err := NewHiLinkSim(personality, simPassword)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim, newHiLinkClient(t, sim.URL, clientPassword)
}

func newHiLinkClient(t testing.TB, url, password string) *hilinkModem {
	t.Helper()
	m, err := newHiLinkModem(ModemConfig{URL: url, Password: password, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	m.statusEvery, m.sendLimit, m.linkLimit = 5*time.Millisecond, 2*time.Second, 2*time.Second
	return m
}

func posts(reqs []HiLinkRequest, path string) int {
	n := 0
	for _, r := range reqs {
		if r.Method == "POST" && (path == "" || r.Path == path) {
			n++
		}
	}
	return n
}

func TestHiLinkType4Vectors(t *testing.T) {
	for _, v := range []struct{ user, pw, token, want string }{
		{"admin", "admin", "g_requestVerificationToken", "MmI4NDg5YjBhNjI4ZDE5M2QwZTE2ZDYzNDljOGVmZGUwMDg1YjlmZjdlYzM4NTA1ZjBjNmQyNjI4ZDViOGIzMg=="},
		{"admin", "this is a very very long password", "g_requestVerificationToken", "ZTAyZGQ2N2E2ZGE3OTQyNDRhZDA4MDcwNDc2NWVhNGFlNWIyZjQ2MWI5MTFjODY3M2ZiNWMzZDUxM2RiZTNlZA=="},
		{"admin", "admin", "XJxa4n/7SgTVnx9GeVNl6zxbTH4FfzQ9", "NDQ4NDJkMmI2YjYyZmEyYzJlYTBhYTVjMGRmYzJkZjRhNGRhZDQzZGU3ZGNiMGU0OGJkMjMwZDMxZmM0ZjUzOA=="},
	} {
		if got := hilinkType4Password(v.user, v.pw, v.token); got != v.want {
			t.Errorf("type4(%q, %q, %q) = %s, want %s", v.user, v.pw, v.token, got, v.want)
		}
	}
}

func TestHiLinkSCRAMVector(t *testing.T) {
	cn := "6ae8b6a8273fa166c24fb11f63d2910db3a4602411023982578d03ea6caa1c54"
	proof, _, err := scramProof("MySecretPassword", cn, cn+"QscEJiy2Dbs0RJAsUN4rz4r8eZnfqbof",
		"fd4b1e6ad1b05db6ff288928fed3005ef4fdc9ade8be276220a8f41adcccda29", 100)
	if err != nil {
		t.Fatal(err)
	}
	if want := "2afb0409edf53eec750bc0ec65d2802d518cc125bbe925799e5a721b8cfe96a1"; proof != want {
		t.Errorf("client proof %s, want %s", proof, want)
	}
	if _, _, err := scramProof("x", cn, cn, "zz", 100); err == nil {
		t.Error("a salt that is not hex was taken")
	}
	if _, _, err := scramProof("x", cn, cn, "00", 0); err == nil {
		t.Error("0 iterations were taken")
	}
}

// Every method against every personality, and never a ZTE request.
func TestHiLinkEveryMethod(t *testing.T) {
	for _, p := range hilinkPersonalities {
		t.Run(p, func(t *testing.T) {
			sim, m := startHiLink(t, p, "s3cret", "s3cret")
			ctx := context.Background()
			now := time.Now().Truncate(time.Second)
			a := sim.Deliver("+15550001", "status 😀 A&B <x>", now.Add(-time.Minute))
			b := sim.Deliver("+15550002", "second", now)

			st, err := m.Poll(ctx)
			if err != nil {
				t.Fatalf("poll: %v", err)
			}
			if !strings.HasPrefix(st.Unread, "2/") || !st.DataUp || !st.Connected || !st.Registered || !st.SIMReady {
				t.Errorf("poll = %+v", st)
			}
			msgs, err := m.Inbox(ctx)
			if err != nil {
				t.Fatalf("inbox: %v", err)
			}
			if len(msgs) != 2 {
				t.Fatalf("inbox has %d messages, want 2: %+v", len(msgs), msgs)
			}
			byID := map[int64]SMS{}
			for _, s := range msgs {
				byID[s.ID] = s
			}
			if got := byID[a]; got.Text != "status 😀 A&B <x>" || got.From != "+15550001" || got.Read || !got.Complete || !got.Time.Equal(now.Add(-time.Minute)) {
				t.Errorf("message a = %+v", got)
			}
			if err := m.MarkRead(ctx, a); err != nil || sim.Unread(a) {
				t.Errorf("mark read: %v, still unread %v", err, sim.Unread(a))
			}
			if err := m.Delete(ctx, a, b); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if ids := sim.Inbox(); len(ids) != 0 {
				t.Errorf("inbox after delete: %v", ids)
			}
			if err := m.Delete(ctx, 12345); err == nil {
				t.Error("deleting a message that is not there reported success")
			}
			if err := m.Send(ctx, "+15550001", "ok 🙂 <&>"); err != nil {
				t.Fatalf("send: %v", err)
			}
			if s := sim.Sent(); len(s) != 1 || s[0].To != "+15550001" || s[0].Text != "ok 🙂 <&>" || !s[0].Sent {
				t.Errorf("sent = %+v", s)
			}
			c, err := m.Capacity(ctx)
			if err != nil || c.Total != 500 || c.Used != 1 {
				t.Errorf("capacity = %+v, %v", c, err)
			}
			ms, err := m.Status(ctx)
			if err != nil || ms.Network != "LTE" || ms.Bars != 4 || !ms.DataUp || ms.Operator != "Sim Telecom" || ms.SignalDB != "-95" || !ms.SIMReady {
				t.Errorf("status = %+v, %v", ms, err)
			}
			how, err := m.Reconnect(ctx)
			if err != nil || how != "connected" {
				t.Errorf("reconnect = %q, %v", how, err)
			}
			if err := m.Reboot(ctx); err != nil {
				t.Errorf("reboot: %v", err)
			}
			if got := strings.Join(sim.Actions(), ","); got != "data off,data on,reboot" {
				t.Errorf("actions = %s", got)
			}
			// After the reboot every session is gone: the next read logs in again.
			if _, err := m.Poll(ctx); err != nil {
				t.Errorf("poll after reboot: %v", err)
			}
			info := m.Info()
			wantLogin := map[string]string{"e3372h": hilinkSchemeType4, "b618": hilinkSchemeSCRAM, "e3372-nologin": hilinkSchemeNone}[p]
			if info.Family != familyHiLink || info.Model == "" || info.Login != wantLogin || !info.Can.MarkRead {
				t.Errorf("info = %+v", info)
			}
			for _, r := range sim.Requests() {
				if r.Path != "/" && !strings.HasPrefix(r.Path, "/api/") {
					t.Errorf("request outside the HiLink API: %s %s", r.Method, r.Path)
				}
			}
		})
	}
}

// One request per idle poll, no login while the session lasts, a fresh
// token for every write.
func TestHiLinkIdlePollAndTokens(t *testing.T) {
	for _, p := range hilinkPersonalities {
		t.Run(p, func(t *testing.T) {
			sim, m := startHiLink(t, p, "pw", "pw")
			ctx := context.Background()
			if _, err := m.Poll(ctx); err != nil {
				t.Fatal(err)
			}
			before := len(sim.Requests())
			for i := 0; i < 20; i++ {
				if _, err := m.Poll(ctx); err != nil {
					t.Fatal(err)
				}
			}
			reqs := sim.Requests()[before:]
			if len(reqs) != 20 {
				t.Errorf("20 idle polls cost %d requests, want 20: %v", len(reqs), reqs)
			}
			if n := posts(reqs, ""); n != 0 {
				t.Errorf("idle polls posted %d times", n)
			}
			for i := 0; i < 3; i++ {
				id := sim.Deliver("+1555", "x", time.Now())
				if err := m.MarkRead(ctx, id); err != nil {
					t.Fatal(err)
				}
				if err := m.Delete(ctx, id); err != nil {
					t.Fatal(err)
				}
			}
			seen := map[string]bool{}
			for _, r := range sim.Requests() {
				if r.Method != "POST" {
					continue
				}
				if r.Token == "" || seen[r.Token] {
					t.Errorf("%s went with token %q (used before: %v)", r.Path, r.Token, seen[r.Token])
				}
				seen[r.Token] = true
			}
		})
	}
}

// The device hands out no next token: the client fetches one per write.
func TestHiLinkTokenExhaustion(t *testing.T) {
	for _, p := range hilinkPersonalities {
		t.Run(p, func(t *testing.T) {
			sim, m := startHiLink(t, p, "pw", "pw")
			sim.Configure(func(s *HiLinkSim) { s.NoTokenInAnswers, s.TokensAfterLogin = true, 2 })
			ctx := context.Background()
			var ids []int64
			for i := 0; i < 6; i++ {
				ids = append(ids, sim.Deliver("+1555", "x", time.Now()))
			}
			if err := m.MarkRead(ctx, ids...); err != nil {
				t.Fatalf("mark read with tokens running out: %v", err)
			}
			if err := m.Delete(ctx, ids...); err != nil {
				t.Fatalf("delete with tokens running out: %v", err)
			}
			if len(sim.Inbox()) != 0 {
				t.Errorf("left: %v", sim.Inbox())
			}
		})
	}
}

func TestHiLinkSessionExpiry(t *testing.T) {
	for _, p := range hilinkPersonalities {
		t.Run(p, func(t *testing.T) {
			sim, m := startHiLink(t, p, "pw", "pw")
			ctx := context.Background()
			if _, err := m.Poll(ctx); err != nil {
				t.Fatal(err)
			}
			logins := posts(sim.Requests(), "/api/user/login") + posts(sim.Requests(), "/api/user/authentication_login")
			sim.ExpireSessions()
			if _, err := m.Poll(ctx); err != nil {
				t.Fatalf("poll after expiry: %v", err)
			}
			id := sim.Deliver("+1555", "x", time.Now())
			sim.ExpireSessions()
			if err := m.Delete(ctx, id); err != nil {
				t.Fatalf("delete after expiry: %v", err)
			}
			after := posts(sim.Requests(), "/api/user/login") + posts(sim.Requests(), "/api/user/authentication_login")
			want := logins + 2
			if p == "e3372-nologin" {
				want = 0
			}
			if after != want {
				t.Errorf("logins %d, want %d (one per expiry)", after, want)
			}
		})
	}
}

// A wrong password never costs the device more than the attempts smsgate
// may spend, across polls and restarts.
func TestHiLinkWrongPasswordSafeCount(t *testing.T) {
	for _, p := range []string{"e3372h", "b618"} {
		t.Run(p, func(t *testing.T) {
			sim, m := startHiLink(t, p, "right", "wrong")
			ctx := context.Background()
			var le *LoginError
			for i := 0; i < 10; i++ {
				_, err := m.Poll(ctx)
				if !errors.As(err, &le) {
					t.Fatalf("poll %d: %v, want a LoginError", i, err)
				}
			}
			if f := sim.Failures(); f != hilinkLoginLimit-hilinkReserved {
				t.Errorf("the device counted %d wrong passwords, want %d", f, hilinkLoginLimit-hilinkReserved)
			}
			if !le.RetryAfter.IsZero() || !strings.Contains(le.Reason, "fix -password") {
				t.Errorf("hold = %+v, want one until a restart", le)
			}
			before := len(sim.Requests())
			for i := 0; i < 5; i++ {
				m.Poll(ctx)
			}
			if n := len(sim.Requests()) - before; n != 5 {
				t.Errorf("5 polls while held cost %d requests", n)
			}
			// A restart keeps the count for this password.
			r := m.Refusals()
			m2 := newHiLinkClient(t, sim.URL, "wrong")
			if !m2.SetRefusals(r) {
				t.Fatal("refusals not taken back")
			}
			m2.now = func() time.Time { return time.Now().Add(48 * time.Hour) }
			if _, err := m2.Poll(ctx); !errors.As(err, &le) {
				t.Fatalf("after restart: %v", err)
			}
			if f := sim.Failures(); f != hilinkLoginLimit-hilinkReserved {
				t.Errorf("after a restart the device counted %d wrong passwords", f)
			}
			// Another password starts afresh, and the right one works.
			m3 := newHiLinkClient(t, sim.URL, "right")
			if m3.SetRefusals(r) {
				t.Error("refusals of another password were taken")
			}
			if _, err := m3.Poll(ctx); err != nil {
				t.Errorf("right password: %v", err)
			}
		})
	}
}

// A blank or unreadable answer is never a refused password.
func TestHiLinkBlankAnswers(t *testing.T) {
	t.Run("blank reads", func(t *testing.T) {
		sim, m := startHiLink(t, "e3372h", "pw", "pw")
		sim.Configure(func(s *HiLinkSim) { s.Blank = true })
		for i := 0; i < 5; i++ {
			if _, err := m.Poll(context.Background()); err == nil {
				t.Fatal("blank answer read as a poll")
			}
		}
		if n := posts(sim.Requests(), ""); n != 0 || m.Refusals().Count != 0 {
			t.Errorf("blank reads led to %d posts and %d refusals", n, m.Refusals().Count)
		}
	})
	t.Run("blank login answer, right password", func(t *testing.T) {
		sim, m := startHiLink(t, "e3372h", "pw", "pw")
		sim.Configure(func(s *HiLinkSim) { s.BlankLoginAnswer = true })
		if _, err := m.Poll(context.Background()); err != nil {
			t.Fatalf("poll: %v", err)
		}
		if m.Refusals().Count != 0 || !m.Info().LoggedIn {
			t.Errorf("refusals %d, logged in %v", m.Refusals().Count, m.Info().LoggedIn)
		}
	})
	t.Run("blank login answer, wrong password", func(t *testing.T) {
		sim, m := startHiLink(t, "e3372h", "pw", "bad")
		sim.Configure(func(s *HiLinkSim) { s.BlankLoginAnswer = true })
		_, err := m.Poll(context.Background())
		var le *LoginError
		if !errors.As(err, &le) || le.RetryAfter.IsZero() || strings.HasPrefix(le.Reason, "wrong password") {
			t.Fatalf("poll: %v", err)
		}
		if m.Refusals().Count != 0 {
			t.Errorf("a blank answer was counted as a refused password")
		}
		if _, err := m.Poll(context.Background()); !errors.As(err, &le) || sim.Failures() != 1 {
			t.Errorf("second poll %v tried again at once (device failures %d)", err, sim.Failures())
		}
	})
}

// A device that reports its login locked is not tried.
func TestHiLinkLockedNotTried(t *testing.T) {
	sim, m := startHiLink(t, "e3372h", "right", "right")
	sim.Configure(func(s *HiLinkSim) { s.LockAfter = 1 })
	bad := newHiLinkClient(t, sim.URL, "wrong")
	bad.Poll(context.Background())
	if sim.Failures() != 1 {
		t.Fatalf("failures %d", sim.Failures())
	}
	before := posts(sim.Requests(), "/api/user/login")
	_, err := m.Poll(context.Background())
	var le *LoginError
	if !errors.As(err, &le) || !strings.Contains(le.Reason, "locked") {
		t.Fatalf("poll on a locked device: %v", err)
	}
	if n := posts(sim.Requests(), "/api/user/login"); n != before {
		t.Errorf("%d logins posted to a locked device", n-before)
	}
}

func TestHiLinkSendOutcomes(t *testing.T) {
	sim, m := startHiLink(t, "e3372h", "pw", "pw")
	sim.Configure(func(s *HiLinkSim) { s.SendFails = true })
	err := m.Send(context.Background(), "+15550001", "x")
	if err == nil || errors.Is(err, errSendUnconfirmed) {
		t.Errorf("failed send: %v", err)
	}
	if err := m.Send(context.Background(), "+1;+2", "x"); err == nil {
		t.Error("a number list was sent")
	}
	// A device that never reports: unconfirmed, and posted once.
	sim.Configure(func(s *HiLinkSim) { s.SendFails = false })
	m.sendLimit = 50 * time.Millisecond
	sim.mu.Lock()
	sim.sendState.reads = -1 << 30
	sim.mu.Unlock()
	before := posts(sim.Requests(), "/api/sms/send-sms")
	sim.Configure(func(s *HiLinkSim) { s.NoTokenInAnswers = true })
	if err := m.Send(context.Background(), "+15550003", "y"); err != nil && !errors.Is(err, errSendUnconfirmed) {
		t.Errorf("send: %v", err)
	}
	if n := posts(sim.Requests(), "/api/sms/send-sms") - before; n != 1 {
		t.Errorf("send-sms posted %d times", n)
	}
}

// A long message is left alone while the device merges its parts, and the
// poll says when to look again. In a synctest bubble: the grace is the
// default and is timed exactly, a moment before it and at it.
func TestHiLinkMultipart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, m := startHiLinkPiped(t, "e3372-nologin", "")
		ctx := t.Context()
		id := sim.DeliverIncomplete("+1555", "part one ", time.Now())
		p1, _ := m.Poll(ctx)
		msgs, err := m.Inbox(ctx)
		if err != nil || len(msgs) != 1 || msgs[0].Complete {
			t.Fatalf("inbox %+v, %v", msgs, err)
		}
		sim.GrowMessage(id, "part two")
		time.Sleep(m.multipartGrace - time.Second)
		if p, _ := m.Poll(ctx); p.Unread != p1.Unread {
			t.Errorf("poll changed before the grace: %q", p.Unread)
		}
		time.Sleep(time.Second)
		p2, _ := m.Poll(ctx)
		if p1.Unread == p2.Unread {
			t.Errorf("poll did not change after the grace: %q", p2.Unread)
		}
		msgs, _ = m.Inbox(ctx)
		if len(msgs) != 1 || !msgs[0].Complete || msgs[0].Text != "part one part two" {
			t.Errorf("inbox %+v", msgs)
		}
	})
}

// Strict firmware refuses pretty-printed and reordered XML (100005); the
// client's bodies are neither.
func TestHiLinkStrictXML(t *testing.T) {
	sim, m := startHiLink(t, "e3372-nologin", "", "")
	ctx := context.Background()
	if err := m.newSession(ctx); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{
		xmlDecl + "<request>\n  <PageIndex>1</PageIndex>\n</request>",
		xmlDecl + "<request><ReadCount>20</ReadCount><PageIndex>1</PageIndex><BoxType>1</BoxType><SortType>0</SortType><Ascending>0</Ascending><UnreadPreferred>0</UnreadPreferred></request>",
	} {
		_, err := m.post(ctx, "/api/sms/sms-list", []byte(body))
		if hilinkCode(err) != 100005 {
			t.Errorf("sim took %q: %v", body, err)
		}
	}
	_ = sim
	b := string(sendBody("+1", "a\nb", time.Now()))
	if strings.Contains(b, ">\n") || strings.Contains(b, "> ") || !strings.Contains(b, "<Content>a\nb</Content>") {
		t.Errorf("send body %q", b)
	}
}

func TestHiLinkCESU8(t *testing.T) {
	for _, s := range []string{"", "plain", "é€", "😀", "a😀b🙂c", "\U0010FFFF"} {
		enc := encodeCESU8(s)
		if strings.ContainsRune(s, 0x1F600) && enc == s {
			t.Errorf("%q not encoded", s)
		}
		if got := string(repairCESU8([]byte(enc))); got != s {
			t.Errorf("round trip %q -> %q", s, got)
		}
	}
	// A lone surrogate becomes one replacement character.
	if got := string(repairCESU8([]byte("a\xed\xa0\x80b"))); got != "a\uFFFDb" {
		t.Errorf("lone surrogate -> %q", got)
	}
}

func TestIsHiLinkAnswer(t *testing.T) {
	for _, c := range []struct {
		body string
		want bool
	}{
		{`<?xml version="1.0" encoding="UTF-8"?><response><SesInfo>SessionID=abc</SesInfo><TokInfo>t</TokInfo></response>`, true},
		{"<?xml version=\"1.0\"?>\n<error>\n<code>100002</code>\n<message></message>\n</error>", true},
		{`{"loginfo":"ok"}`, false},
		{`<html><body>login</body></html>`, false},
		{``, false},
		{`<response><other>1</other></response>`, false},
	} {
		if got := isHiLinkAnswer([]byte(c.body)); got != c.want {
			t.Errorf("isHiLinkAnswer(%q) = %v", c.body, got)
		}
	}
}

func TestHiLinkAnswerTokens(t *testing.T) {
	for _, c := range []struct {
		h    map[string]string
		want string
	}{
		{map[string]string{tokenHeader: "a#b#c#"}, "a,b,c"},
		{map[string]string{tokenHeader: "one"}, "one"},
		{map[string]string{tokenHeaderOne: "x", tokenHeaderTwo: "y"}, "x,y"},
		{map[string]string{tokenHeader: "bad token#ok"}, "ok"},
		{map[string]string{}, ""},
	} {
		if got := strings.Join(answerTokens(c.h), ","); got != c.want {
			t.Errorf("answerTokens(%v) = %q, want %q", c.h, got, c.want)
		}
	}
}

func TestHiLinkDeliveryReportHasNoSender(t *testing.T) {
	m := newHiLinkClient(t, "http://127.0.0.1:1", "")
	s := m.decodeMsg(hilinkMsg{Index: 1, Phone: "+15550001", Content: "delivered", Date: "2026-01-02 03:04:05", SmsType: "7"}, "device")
	if s.From != "" || s.Problem == "" {
		t.Errorf("delivery report = %+v", s)
	}
}

// Pages are read until a short one, whatever Count means.
func TestHiLinkInboxPages(t *testing.T) {
	for _, countIsPage := range []bool{false, true} {
		sim, m := startHiLink(t, "e3372h", "pw", "pw")
		sim.Configure(func(s *HiLinkSim) { s.CountIsPage = countIsPage })
		base := time.Now().Add(-time.Hour)
		for i := 0; i < 2*hilinkPage+7; i++ {
			sim.Deliver("+1555", "m", base.Add(time.Duration(i)*time.Second))
		}
		msgs, err := m.Inbox(context.Background())
		if err != nil || len(msgs) != 2*hilinkPage+7 {
			t.Errorf("count is page %v: %d messages, %v", countIsPage, len(msgs), err)
		}
	}
}

func TestHiLinkLinkState(t *testing.T) {
	sim, m := startHiLink(t, "e3372h", "pw", "pw")
	ctx := context.Background()
	m.linkEvery = 0
	sim.SetLink(false)
	st, err := m.Poll(ctx)
	if err != nil || st.DataUp || st.Registered || st.Connected {
		t.Errorf("poll with the link down = %+v, %v", st, err)
	}
	ms, err := m.Status(ctx)
	if err != nil || ms.DataUp || ms.Data != "disconnected" || ms.Network != "no service" || ms.Bars != 0 {
		t.Errorf("status with the link down = %+v, %v", ms, err)
	}
	sim.SetLink(true)
	if st, _ := m.Poll(ctx); !st.DataUp || !st.Connected {
		t.Errorf("poll with the link back = %+v", st)
	}
}

// A session the device logged out for idleness costs one login, no more.
func TestHiLinkIdleLogout(t *testing.T) {
	sim, m := startHiLink(t, "b618", "pw", "pw")
	clock := newFakeClock()
	sim.mu.Lock()
	sim.now = clock.Now
	sim.mu.Unlock()
	ctx := context.Background()
	if _, err := m.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Advance(301 * time.Second)
	for i := 0; i < 3; i++ {
		if _, err := m.Poll(ctx); err != nil {
			t.Fatalf("poll after idle logout: %v", err)
		}
	}
	if n := posts(sim.Requests(), "/api/user/authentication_login"); n != 2 {
		t.Errorf("%d logins, want 2", n)
	}
}

func TestStartHiLinkSim(t *testing.T) {
	if _, _, err := startHiLinkSim("e3372h", "pw", "192.0.2.1:80"); err == nil {
		t.Error("a non-loopback address was served")
	}
	if _, _, err := startHiLinkSim("nosuch", "pw", "127.0.0.1:0"); err == nil {
		t.Error("an unknown personality was taken")
	}
	url, closer, err := startHiLinkSim("e3372h", "pw", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	m := newHiLinkClient(t, url, "pw")
	if err := m.Send(context.Background(), "+1555", "hi"); err != nil {
		t.Errorf("send through startHiLinkSim: %v", err)
	}
}

// BenchmarkHiLinkIdlePoll is the client's cost of one idle poll against
// the simulator over loopback (requests per poll: see TestHiLinkIdlePollAndTokens).
func BenchmarkHiLinkIdlePoll(b *testing.B) {
	_, m := startHiLink(b, "e3372h", "pw", "pw")
	ctx := context.Background()
	if _, err := m.Poll(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Poll(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// A message that comes while another is read elsewhere still changes
// what the poll reports.
func TestHiLinkPollSeesArrivalDespiteRead(t *testing.T) {
	sim, m := startHiLink(t, "e3372h", "pw", "pw")
	ctx := context.Background()
	a := sim.Deliver("+1555", "a", time.Now())
	p1, err := m.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sim.mu.Lock()
	for _, msg := range sim.msgs {
		if msg.index == a {
			msg.read = true // read in the web UI
		}
	}
	sim.mu.Unlock()
	sim.Deliver("+1555", "b", time.Now())
	p2, _ := m.Poll(ctx)
	if p1.Unread == p2.Unread {
		t.Errorf("poll did not change: %q", p2.Unread)
	}
}

func TestHiLinkLogout(t *testing.T) {
	for _, p := range hilinkPersonalities {
		sim, m := startHiLink(t, p, "pw", "pw")
		ctx := context.Background()
		if _, err := m.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		if err := m.Logout(ctx); err != nil {
			t.Errorf("%s: logout: %v", p, err)
		}
		want := "logout"
		if p == "e3372-nologin" {
			want = ""
		}
		if got := strings.Join(sim.Actions(), ","); got != want {
			t.Errorf("%s: actions %q, want %q", p, got, want)
		}
		if _, err := m.Poll(ctx); err != nil {
			t.Errorf("%s: poll after logout: %v", p, err)
		}
	}
}

func TestHiLinkDoctorChecks(t *testing.T) {
	for _, c := range []struct {
		p, pw string
		want  string // levels in order
	}{
		{"e3372h", "pw", "ok ok ok ok"},
		{"b618", "pw", "ok ok ok ok"},
		{"e3372-nologin", "pw", "ok ok ok ok"},
		{"e3372h", "wrong", "ok FAIL"},
	} {
		sim, _ := startHiLink(t, c.p, "pw", c.pw)
		m := newHiLinkClient(t, sim.URL, c.pw)
		var levels []string
		var lines []string
		for _, ch := range m.DoctorChecks(context.Background()) {
			levels = append(levels, ch.Level.String())
			lines = append(lines, ch.lines()...)
		}
		if got := strings.Join(levels, " "); got != c.want {
			t.Errorf("%s/%s: levels %q, want %q:\n%s", c.p, c.pw, got, c.want, strings.Join(lines, "\n"))
		}
		model := sim.p.model
		if c.pw != "pw" {
			model = "unknown" // device/information needs the session
		}
		if !strings.Contains(lines[0], "model "+model) {
			t.Errorf("%s: first line %q does not name the model", c.p, lines[0])
		}
	}
}

// One-shot commands that log in and never log out fill the device's
// sessions; a refusal for that is no wrong password, and Logout avoids it.
func TestHiLinkSessionPileUp(t *testing.T) {
	for _, p := range []string{"e3372h", "b618"} {
		sim, _ := startHiLink(t, p, "pw", "pw")
		sim.Configure(func(s *HiLinkSim) { s.MaxSessions = 3 })
		ctx := context.Background()
		var le *LoginError
		for i := 0; i < 4; i++ {
			m := newHiLinkClient(t, sim.URL, "pw")
			_, err := m.Poll(ctx)
			switch {
			case i < 3 && err != nil:
				t.Fatalf("%s: one-shot %d: %v", p, i, err)
			case i == 3 && (!errors.As(err, &le) || !le.Busy || m.Refusals().Count != 0):
				t.Errorf("%s: fourth session: %v, refusals %d", p, err, m.Refusals().Count)
			}
		}
		if sim.Failures() != 0 {
			t.Errorf("%s: device counted %d failures", p, sim.Failures())
		}
		sim.ExpireSessions()
		for i := 0; i < 5; i++ {
			m := newHiLinkClient(t, sim.URL, "pw")
			if _, err := m.Poll(ctx); err != nil {
				t.Fatalf("%s: one-shot %d with logout: %v", p, i, err)
			}
			if err := m.Logout(ctx); err != nil {
				t.Fatalf("%s: logout: %v", p, err)
			}
		}
	}
}

// A rebooting device drops connections: reads fail, no login is spent,
// and the client comes back by itself. In a synctest bubble: a device that
// takes its minute to reboot, looked at a second before and at the minute.
func TestHiLinkRebootUnreachable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, m := startHiLinkPiped(t, "e3372h", "pw")
		sim.Configure(func(s *HiLinkSim) { s.RebootFor = time.Minute })
		ctx := t.Context()
		if err := m.Reboot(ctx); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := m.Poll(ctx); err == nil {
			t.Error("poll of a rebooting device worked")
		}
		time.Sleep(time.Minute - time.Second - time.Since(start))
		if _, err := m.Poll(ctx); err == nil {
			t.Error("poll a second before the device is back worked")
		}
		time.Sleep(time.Minute - time.Since(start))
		if _, err := m.Poll(ctx); err != nil {
			t.Errorf("poll after the reboot: %v", err)
		}
		if m.Refusals().Count != 0 || sim.Failures() != 0 {
			t.Error("the reboot cost a login attempt")
		}
	})
}

// Messages kept on the SIM are listed too, and deleted from there.
func TestHiLinkSIMInbox(t *testing.T) {
	sim, m := startHiLink(t, "e3372h", "pw", "pw")
	ctx := context.Background()
	d := sim.Deliver("+1555", "device", time.Now())
	s := sim.DeliverSIM("+1556", "on the sim", time.Now())
	msgs, err := m.Inbox(ctx)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("inbox %+v, %v", msgs, err)
	}
	stores := map[int64]string{}
	for _, x := range msgs {
		stores[x.ID] = x.Store
	}
	if stores[d] != "device" || stores[s] != "sim" {
		t.Errorf("stores %v", stores)
	}
	if err := m.Delete(ctx, s); err != nil || len(sim.Inbox()) != 1 {
		t.Errorf("delete from the SIM: %v, left %v", err, sim.Inbox())
	}
}

func TestHiLinkUnreachable(t *testing.T) {
	sim, m := startHiLink(t, "e3372-nologin", "", "")
	sim.SetUnreachable(true)
	if _, err := m.Poll(context.Background()); err == nil {
		t.Error("poll of an unreachable device worked")
	}
	sim.SetUnreachable(false)
	if _, err := m.Poll(context.Background()); err != nil {
		t.Errorf("poll once reachable: %v", err)
	}
}

// One Index listed with two different messages (the owner's command and a
// stranger's longer text): both are listed, under one id, none dropped;
// the same message listed twice is one.
func TestHiLinkIndexListedTwice(t *testing.T) {
	sim, m := startHiLink(t, "e3372h", "pw", "pw")
	ctx := context.Background()
	id := sim.Deliver("+21612345678", "4711 mark", time.Now())
	sim.DeliverUnderIndex(id, "+21699999999", "hello this is a longer text", time.Now())
	other := sim.Deliver("+1555", "hello", time.Now())
	sim.DeliverUnderIndex(other, "+1555", "hello", time.Now())
	msgs, err := m.Inbox(ctx)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("inbox %+v, %v", msgs, err)
	}
	texts := map[int64][]string{}
	for _, x := range msgs {
		for _, r := range x.records() {
			texts[x.ID] = append(texts[x.ID], r.Text)
		}
	}
	if len(texts[id]) != 2 || len(texts[other]) != 1 {
		t.Errorf("listed %v", texts)
	}
}

// TestHiLinkLostLoginHoldOutlivesRestart: a login whose answer was lost
// is not counted as a wrong password, but holds the next for a while (the
// device may have counted it). That hold was in memory only: a restart
// logged in again at once. It is kept in the state (LoginRefusals.Until).
func TestHiLinkLostLoginHoldOutlivesRestart(t *testing.T) {
	sim, err := NewHiLinkSim("e3372h", "right")
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	target, _ := url.Parse(sim.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	// The device judges the login, and the answer is cut off.
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/user/login" {
			proxy.ServeHTTP(w, r)
			return
		}
		proxy.ServeHTTP(httptest.NewRecorder(), r)
		if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
			c.Close()
		}
	}))
	t.Cleanup(front.Close)
	clk := newFakeClock()
	start := func(seed LoginRefusals) (*hilinkModem, error) {
		m := newHiLinkClient(t, front.URL, "wrong")
		m.now = clk.Now
		m.SetRefusals(seed)
		_, err := m.Poll(context.Background())
		return m, err
	}
	logins := func() int { return posts(sim.Requests(), "/api/user/login") }
	m, err := start(LoginRefusals{})
	var le *LoginError
	if !errors.As(err, &le) || logins() != 1 {
		t.Fatalf("lost answer: %v, %d logins", err, logins())
	}
	saved := m.Refusals()
	if saved.Count != 0 || !saved.Until.After(clk.Now()) {
		t.Fatalf("kept %+v, want no refusal counted and the hold", saved)
	}
	clk.Advance(time.Minute)
	if _, err := start(saved); !errors.As(err, &le) || logins() != 1 {
		t.Errorf("restart within the hold: %v, %d logins, want 1", err, logins())
	}
	clk.Advance(hilinkLockFallback)
	start(saved)
	if n := logins(); n != 2 {
		t.Errorf("%d logins once the hold is over, want 2", n)
	}
}

// Cold review: the device and SIM inboxes were joined without the rule
// for one id listed twice, and within a box the first copy of a message
// was kept where dedupeByID keeps the longest. One rule over the whole
// inbox: one record per message, the longest; every different message
// under one Index kept (SMS.Shared), whichever box lists it.
func TestHiLinkOneRuleOverTheWholeInbox(t *testing.T) {
	at := time.Date(2026, 3, 14, 12, 0, 0, 0, time.Local)
	for _, c := range []struct {
		name    string
		deliver func(sim *HiLinkSim) int64
		want    []string // the texts listed under the id, the record first
	}{
		{"the same message, the longer copy kept", func(sim *HiLinkSim) int64 {
			id := sim.Deliver(owner, "stat", at)
			sim.DeliverUnderIndex(id, owner, "status", at)
			return id
		}, []string{"status"}},
		{"an Index in both boxes: both kept", func(sim *HiLinkSim) int64 {
			id := sim.Deliver(owner, "ping", at)
			sim.DeliverSIMUnderIndex(id, "+21699999999", "hello", at)
			return id
		}, []string{"ping", "hello"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			sim, m := startHiLink(t, "e3372h", "pw", "pw")
			id := c.deliver(sim)
			msgs, err := m.Inbox(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			n := 0
			for _, x := range msgs {
				if x.ID != id {
					continue
				}
				n++
				for _, r := range x.records() {
					got = append(got, r.Text)
				}
			}
			if n != 1 || !slices.Equal(got, c.want) {
				t.Errorf("id %d listed %d times, texts %q; want once, %q", id, n, got, c.want)
			}
		})
	}
}
