package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestSimIsIndependent: the simulator (sim.go, and replay.go, which builds
// one from a capture) uses nothing declared in the client's files (hashing,
// login, decoding, key lists, helpers): it is a witness of the notes, not a
// mirror of the client.
func TestSimIsIndependent(t *testing.T) {
	// The simulator's files: sim.go, replay.go and those named sim_*.go or
	// replay_*.go (the newer generations, the ubus family).
	simFiles := []string{"sim.go", "replay.go"}
	more, _ := filepath.Glob("sim_*.go")
	replays, _ := filepath.Glob("replay_*.go")
	for _, f := range append(more, replays...) {
		if !strings.HasSuffix(f, "_test.go") {
			simFiles = append(simFiles, f)
		}
	}
	// replay.go reads a capture the client wrote: its format and the
	// client's names for the login scheme, AD form and generation it
	// recorded are the file's vocabulary, not the simulator's behaviour.
	vocabulary := map[string]bool{"Capture": true, "Exchange": true, "ReadCapture": true, "configJSPath": true,
		"schemeNone": true, "schemeBase64": true, "schemeSHA256Base64": true, "schemeSHA256LD": true,
		"adNone": true, "adMD5": true, "adSHA256": true, "adSHA256Lower": true,
		"genClassic": true, "genF50": true, "genRED": true}
	for _, f := range simFiles {
		var used []string
		for _, n := range clientNamesUsed(t, f, simFiles...) {
			name, _, _ := strings.Cut(n, " ")
			if name != "init" && (!strings.HasPrefix(f, "replay") || !vocabulary[name]) {
				used = append(used, n)
			}
		}
		if len(used) > 0 {
			t.Errorf("%s uses the client's %s", f, strings.Join(used, ", "))
		}
	}
}

// clientNamesUsed lists the package-level names that file uses from the
// package's non-test files other than the simulator's own.
func clientNamesUsed(t *testing.T, file string, simFiles ...string) []string {
	t.Helper()
	fset := token.NewFileSet()
	client := map[string]string{} // package-level name -> file
	own := map[string]bool{}
	for _, n := range simFiles {
		own[n] = true
	}
	files, _ := filepath.Glob("*.go")
	var sim *ast.File
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if name == file {
			sim = f
		}
		if own[name] {
			continue
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					client[d.Name.Name] = name
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch spec := spec.(type) {
					case *ast.ValueSpec:
						for _, n := range spec.Names {
							if n.Name != "_" { // a compile-time check names nothing
								client[n.Name] = name
							}
						}
					case *ast.TypeSpec:
						client[spec.Name.Name] = name
					}
				}
			}
		}
	}
	if sim == nil {
		t.Fatalf("no %s", file)
	}
	used := map[string]bool{}
	// Names that only name fields, keys and methods are not uses.
	skip := map[*ast.Ident]bool{sim.Name: true}
	ast.Inspect(sim, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.Field:
			for _, id := range n.Names {
				skip[id] = true
			}
		case *ast.KeyValueExpr:
			if id, ok := n.Key.(*ast.Ident); ok {
				skip[id] = true
			}
		case *ast.FuncDecl:
			if n.Recv != nil {
				skip[n.Name] = true
			}
		}
		return true
	})
	ast.Inspect(sim, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && skip[id] {
			return false
		}
		if sel, ok := n.(*ast.SelectorExpr); ok {
			ast.Inspect(sel.X, func(n ast.Node) bool {
				if id, ok := n.(*ast.Ident); ok && client[id.Name] != "" && id.Obj == nil {
					used[id.Name+" ("+client[id.Name]+")"] = true
				}
				return true
			})
			return false // sel.Sel is a field or method name
		}
		if id, ok := n.(*ast.Ident); ok && client[id.Name] != "" && id.Obj == nil {
			used[id.Name+" ("+client[id.Name]+")"] = true
		}
		return true
	})
	var names []string
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func postsOf(r SimRecord, goformID string) []SimPost {
	var out []SimPost
	for _, p := range r.Posts {
		if p.GoformID == goformID {
			out = append(out, p)
		}
	}
	return out
}

// TestADFormLearntFromLoggedInRefusals: firmware that wants the SHA256 AD
// in lower case is learnt from refusals made in a session, remembered, and
// no AD refusal leads to a login. A refusal for a missing session is not
// taken for an AD refusal.
func TestADFormLearntFromLoggedInRefusals(t *testing.T) {
	p := simPersonalities["mf297d"]
	p.ad = adSHA256Lower
	sim, m, _ := startSimAs(t, p, "pw", "pw")
	ctx := context.Background()
	if _, err := m.Poll(ctx); err != nil { // logged in
		t.Fatal(err)
	}
	// The session ends before the first action: that refusal is the
	// session's, and the form is only judged once logged in again.
	sim.ExpireSessions()
	id := sim.Deliver("+1555", "x", time.Now())
	if err := m.MarkRead(ctx, id); err != nil {
		t.Fatal(err)
	}
	got := postsOf(sim.Record(), "SET_MSG_READ")
	var results []string
	for _, p := range got {
		results = append(results, p.Result)
	}
	if strings.Join(results, ",") != "no session,bad AD,bad AD,success" {
		t.Errorf("posts: %v", results)
	}
	d := m.Detected()
	if d.AD != adSHA256Lower || !d.ADConfirmed || !strings.Contains(d.ADFrom, "while logged in") {
		t.Errorf("detected %+v", d)
	}
	if n := len(sim.Record().Logins); n != 2 {
		t.Errorf("%d logins, want 2 (the first, and one for the expired session)", n)
	}
	// Remembered: the next action is posted once.
	before := len(sim.Record().Posts)
	if err := m.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if r := sim.Record(); len(r.Posts)-before != 1 || len(r.Logins) != 2 {
		t.Errorf("after learning: %d posts, %d logins", len(r.Posts)-before, len(r.Logins))
	}
}

// TestADRefusalOnceConfirmedIsARefusal: with a form confirmed, a refusal
// made in a session is the action's, not a reason to switch forms or log
// in.
func TestADRefusalOnceConfirmedIsARefusal(t *testing.T) {
	sim, m, _ := startSim(t, "mf286d", "pw", "pw")
	ctx := context.Background()
	id := sim.Deliver("+1555", "x", time.Now())
	if err := m.MarkRead(ctx, id); err != nil {
		t.Fatal(err)
	}
	sim.SetFaults(func(f *SimFaults) { f.FailActions = map[string]string{"DELETE_SMS": "failure"} })
	if err := m.Delete(ctx, id); !errors.Is(err, errRefused) {
		t.Fatalf("refused delete: %v", err)
	}
	r := sim.Record()
	if n := len(postsOf(r, "DELETE_SMS")); n != 1 || len(r.Logins) != 1 {
		t.Errorf("%d delete posts, %d logins; want 1, 1", n, len(r.Logins))
	}
	if d := m.Detected(); d.AD != adMD5 {
		t.Errorf("AD form %s after a refusal", d.AD)
	}
}

func TestParseConfigJS(t *testing.T) {
	tests := []struct {
		js, scheme string
		noLogin    bool
	}{
		{`var config={WEB_ATTR_IF_SUPPORT_SHA256:2,HAS_LOGIN:true}`, schemeSHA256LD, false},
		{`{"WEB_ATTR_IF_SUPPORT_SHA256" : "2"}`, schemeSHA256LD, false},
		{`{WEB_ATTR_IF_SUPPORT_SHA256:'1'}`, schemeSHA256Base64, false},
		{`{WEB_ATTR_IF_SUPPORT_SHA256:0}`, schemeBase64, false},
		{`{TITLE:"x"}`, schemeBase64, false}, // absent: the web UI's default
		{`{WEB_ATTR_IF_SUPPORT_SHA256:""}`, "", false},
		{`{WEB_ATTR_IF_SUPPORT_SHA256:7}`, "", false},
		{`{HAS_LOGIN:false,WEB_ATTR_IF_SUPPORT_SHA256:2}`, schemeNone, true},
		{`{HAS_LOGIN:!1}`, schemeNone, true},
		{`{HAS_LOGIN:!0,MY_WEB_ATTR_IF_SUPPORT_SHA256:2}`, schemeBase64, false}, // a longer name is not the key
		{`{WEB_ATTR_IF_SUPPORT_SHA256`, "", false},
	}
	for _, tt := range tests {
		scheme, noLogin := parseConfigJS([]byte(tt.js)).scheme()
		if scheme != tt.scheme || noLogin != tt.noLogin {
			t.Errorf("%s: scheme %q noLogin %v, want %q %v", tt.js, scheme, noLogin, tt.scheme, tt.noLogin)
		}
	}
}

func FuzzParseConfigJS(f *testing.F) {
	for _, s := range []string{simConfigJS, `{WEB_ATTR_IF_SUPPORT_SHA256:"2",HAS_LOGIN:!0}`, `WEB_ATTR_IF_SUPPORT_SHA256:`, `HAS_LOGIN:'`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c := parseConfigJS(b)
		scheme, _ := c.scheme()
		switch scheme {
		case "", schemeBase64, schemeSHA256Base64, schemeSHA256LD, schemeNone:
		default:
			t.Fatalf("scheme %q", scheme)
		}
		if len(c.SHA256) > len(b) || len(c.HasLogin) > len(b) {
			t.Fatal("value longer than the input")
		}
	})
}

func TestChooseScheme(t *testing.T) {
	tests := []struct {
		config, model, ld, want string
		sureness                int
	}{
		{schemeSHA256Base64, "BD_MC888V1", vecLD, schemeSHA256Base64, fromConfig}, // config.js wins
		{"", " BD_MF286DV1.0.0B04", vecLD, schemeSHA256Base64, fromModel},         // LD served, model says otherwise
		{"", " BD_MC801AV1.0.0B08", "", schemeSHA256LD, fromModel},
		{"", "MF920VV1.0.0 BD_MF920VV1.0.0B03", "", schemeBase64, fromModel},
		{"", " BD_ZX1V1", vecLD, schemeSHA256LD, fromHint}, // only LD tells
		{"", " BD_ZX1V1", "", schemeBase64, fromHint},
	}
	for _, tt := range tests {
		got, from, sureness := chooseScheme(tt.config, "", tt.model, tt.ld)
		if got != tt.want || sureness != tt.sureness {
			t.Errorf("%q %q %q: %s (%s, %d), want %s (%d)", tt.config, tt.model, tt.ld, got, from, sureness, tt.want, tt.sureness)
		}
	}
}

// TestSchemeGuessFallsBack: firmware that names its scheme nowhere and
// hands out LD though it wants base64: the LD guess is refused, base64 is
// tried at once since attempts allow it, and kept. With only 3 attempts
// left, the second scheme waits: the owner keeps two.
func TestSchemeGuessFallsBack(t *testing.T) {
	odd := simPersonality{name: "odd", model: "ZX1", inner: "BD_ZX1V1.0.0B01", scheme: 0, servesLD: true, cookie: "stok"}
	t.Run("attempts allow", func(t *testing.T) {
		sim, m, _ := startSimAs(t, odd, "pw", "pw")
		if err := m.Login(context.Background()); err != nil {
			t.Fatal(err)
		}
		var res []string
		for _, l := range sim.Record().Logins {
			res = append(res, l.Result)
		}
		if strings.Join(res, ",") != "3,0" {
			t.Errorf("logins %v", res)
		}
		if d := m.Detected(); d.Login != schemeBase64 || !strings.HasPrefix(d.LoginFrom, "accepted by the modem") {
			t.Errorf("detected %+v", d)
		}
		// A read that needs the session confirms the login (until then
		// it counts as a spent attempt and holds the next).
		if _, err := m.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		sim.ExpireSessions()
		if err := m.Login(context.Background()); err != nil || len(sim.Record().Logins) != 3 {
			t.Errorf("login again: %v, %d logins (the kept scheme at once)", err, len(sim.Record().Logins))
		}
	})
	t.Run("three left", func(t *testing.T) {
		sim, m, _ := startSimAs(t, odd, "pw", "pw")
		sim.failLeft = 3
		var le *LoginError
		if err := m.Login(context.Background()); !errors.As(err, &le) {
			t.Fatalf("login: %v", err)
		}
		if n := len(sim.Record().Logins); n != 1 || sim.failLeft != 2 {
			t.Errorf("%d logins, %d left to the owner", n, sim.failLeft)
		}
	})
	t.Run("model guess, next lock period", func(t *testing.T) {
		p := simPersonalities["mc801a"]
		p.scheme = 0 // this carrier's MC801A wants base64
		sim, m, clk := startSimAs(t, p, "pw", "pw")
		if err := m.Login(context.Background()); err == nil {
			t.Fatal("the model's scheme was accepted")
		}
		if err := m.Login(context.Background()); err == nil || len(sim.Record().Logins) != 1 {
			t.Fatalf("a second attempt within the lock period: %v, %d logins", err, len(sim.Record().Logins))
		}
		clk.Advance(sim.LockTime + time.Second)
		if err := m.Login(context.Background()); err != nil || len(sim.Record().Logins) != 2 {
			t.Errorf("next period: %v, %d logins", err, len(sim.Record().Logins))
		}
		if d := m.Detected(); d.Login == schemeSHA256LD {
			t.Errorf("detected %+v", d)
		}
	})
	t.Run("config.js is not second-guessed", func(t *testing.T) {
		sim, m, _ := startSim(t, "mf286d", "right", "wrong")
		m.Login(context.Background())
		if n := len(sim.Record().Logins); n != 1 {
			t.Errorf("%d logins", n)
		}
	})
}

// TestLoginUserForms: -user goes as LOGIN_MULTI_USER (with AD), LOGIN +
// username (MC801A, MC7010) or LOGIN + user (MC888), by model.
func TestLoginUserForms(t *testing.T) {
	for _, tt := range []struct{ personality, form string }{
		{"mf297d", "LOGIN_MULTI_USER"}, {"mc801a", "LOGIN+username"}, {"mc7010", "LOGIN+username"}, {"mc888", "LOGIN+user"},
	} {
		t.Run(tt.personality, func(t *testing.T) {
			for _, u := range []struct {
				user string
				ok   bool
			}{{"admin", true}, {"root", false}} {
				sim, m, _ := startSim(t, tt.personality, "pw", "pw")
				m.user = u.user
				err := m.Login(context.Background())
				if (err == nil) != u.ok {
					t.Errorf("user %s: %v", u.user, err)
				}
				if d := m.Detected(); d.LoginForm != tt.form {
					t.Errorf("form %s, want %s", d.LoginForm, tt.form)
				}
				if n := len(sim.Record().Logins); n != 1 {
					t.Errorf("user %s: %d logins", u.user, n)
				}
			}
		})
	}
}

// TestStuckAttemptCounterNeverLocksOutOwner: on every personality with a
// login, a wrong password polled for ten lock periods leaves the owner two
// attempts on the modem's own (internal) count, also where
// psw_fail_num_str stays at 5.
func TestStuckAttemptCounterNeverLocksOutOwner(t *testing.T) {
	for _, name := range simPersonalityNames() {
		if simPersonalities[name].noLogin {
			continue
		}
		t.Run(name, func(t *testing.T) {
			sim, m, clk := startSim(t, name, "right", "wrong")
			for i := 0; i < 10*60 && len(sim.Record().Logins) <= 3; i++ {
				m.Poll(context.Background())
				clk.Advance(5 * time.Second)
			}
			sim.mu.Lock()
			left := sim.failLeft
			sim.mu.Unlock()
			if n := len(sim.Record().Logins); n > 3 || left < 2 {
				t.Errorf("%d attempts, %d left to the owner", n, left)
			}
			if sim.p.stuckAttempts && !m.Detected().CounterStuck {
				t.Error("stuck counter not noticed")
			}
		})
	}
}

// TestLostLoginAnswersCountAsRefused: a wrong password on firmware that
// does not report attempts, with every LOGIN answer lost, spent 18 attempts
// in 25 s. A lost answer counts as a refusal. In a synctest bubble over the
// in-memory network: a poll every 5 s for ten lock periods, the client's
// default timeout for the slow answer, on one clock.
func TestLostLoginAnswersCountAsRefused(t *testing.T) {
	for _, mode := range []string{"cut", "empty", "html", "slow"} {
		t.Run(mode, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sim, m := startSimPiped(t, "mf920v", "right")
				m.password = "wrong"
				sim.SetFaults(func(f *SimFaults) { f.HideAttempts, f.LoseLogin = true, mode })
				for i := 0; i < 10*60 && len(sim.Record().Logins) <= 3; i++ { // ten lock periods
					m.Poll(t.Context())
					time.Sleep(5 * time.Second)
				}
				if n := len(sim.Record().Logins); n != 3 {
					t.Errorf("%d attempts, want 3", n)
				}
				var le *LoginError
				if _, err := m.Poll(t.Context()); !errors.As(err, &le) {
					t.Errorf("poll: %v", err)
				}
			})
		})
	}
}

func TestDataUp(t *testing.T) {
	for ppp, up := range map[string]bool{"ppp_connected": true, "ipv6_connected": true, "ipv4_ipv6_connected": true,
		"ppp_disconnected": false, "ppp_connecting": false, "": false, "ipv6_connecting": false} {
		if dataUp(ppp) != up {
			t.Errorf("dataUp(%q) = %v", ppp, !up)
		}
	}
	for _, p := range []string{"mf297d", "mc7010"} {
		sim, m, _ := startSim(t, p, "pw", "pw")
		st, err := m.Poll(context.Background())
		if err != nil || !st.Connected || !st.DataUp {
			t.Errorf("%s (%s): %+v, %v", p, sim.p.connected, st, err)
		}
		if ppp, err := m.Reconnect(context.Background()); err != nil || ppp != sim.p.connected {
			t.Errorf("%s reconnect: %q, %v", p, ppp, err)
		}
	}
}

func TestDedupeByID(t *testing.T) {
	type want struct {
		text   string   // the record kept
		shared []string // the other messages kept beside it
		done   bool     // Complete
	}
	for _, c := range []struct {
		name string
		in   []SMS
		want []want
	}{
		{"one message growing: the complete, longest record", []SMS{
			{ID: 7, From: "+1", Text: "the", Complete: false},
			{ID: 5, From: "+1", Text: "a", Complete: true},
			{ID: 7, From: "+1", Text: "the long one", Complete: true},
			{ID: 7, From: "+1", Text: "the long one and more", Complete: false},
			{ID: 7, From: "+1", Text: "the lo", Complete: true},
		}, []want{{"a", nil, true}, {"the long one", nil, true}}},
		{"the same record twice: the first", []SMS{
			{ID: 7, From: "+1", Text: "same", Complete: true, Read: true},
			{ID: 7, From: "+1", Text: "same", Complete: true},
		}, []want{{"same", nil, true}}},
		{"another sender: both kept (witness: the owner's 4711 mark vanished)", []SMS{
			{ID: 101, From: "+21612345678", Text: "4711 mark", Complete: true},
			{ID: 101, From: "+21699999999", Text: "hello this is a longer text", Complete: true},
		}, []want{{"4711 mark", []string{"hello this is a longer text"}, true}}},
		{"same sender, another text: both kept", []SMS{
			{ID: 7, From: "+1", Text: "short", Complete: true},
			{ID: 7, From: "+1", Text: "other", Complete: true},
			{ID: 7, From: "+1", Text: "short and long", Complete: true},
		}, []want{{"short and long", []string{"other"}, true}}},
		{"same sender and text, another date: both kept (\"send it again\")", []SMS{
			{ID: 7, From: "+1", Text: "ping", RawDate: "26,03,14,12,00,00,+4", Complete: true},
			{ID: 7, From: "+1", Text: "ping", RawDate: "26,03,14,12,20,00,+4", Complete: true},
		}, []want{{"ping", []string{"ping"}, true}}},
		{"one of them incomplete: each keeps its own (the other's is in the shared check below)", []SMS{
			{ID: 7, From: "+1", Text: "whole", Complete: true},
			{ID: 7, From: "+2", Text: "part", Complete: false},
		}, []want{{"whole", []string{"part"}, true}}},
	} {
		got := dedupeByID(c.in)
		var g []want
		for _, m := range got {
			w := want{text: m.Text, done: m.Complete}
			for _, o := range m.Shared {
				w.shared = append(w.shared, o.Text)
			}
			g = append(g, w)
		}
		if fmt.Sprint(g) != fmt.Sprint(c.want) {
			t.Errorf("%s: got %v, want %v", c.name, g, c.want)
		}
	}
	// Completeness is each record's own.
	if got := dedupeByID([]SMS{{ID: 7, From: "+1", Text: "whole", Complete: true}, {ID: 7, From: "+2", Text: "part"}}); len(got) != 1 ||
		len(got[0].Shared) != 1 || got[0].Shared[0].Complete {
		t.Errorf("an incomplete record beside a whole one: %+v", got)
	}
	// One unreadable record makes the whole id unreadable.
	got := dedupeByID([]SMS{{ID: 3, From: "+1", Text: "x", Complete: true}, {ID: 3, Unreadable: "sealed"}})
	if len(got) != 1 || got[0].Unreadable == "" || len(got[0].Shared) != 1 {
		t.Errorf("unreadable beside a readable record: %+v", got)
	}
}

// TestInboxBoundedOnOverfilledPages: a modem that over-fills every page
// took RSS to 900 MB in one inbox read. The read stops at what the
// modem's capacity allows, with an error, having held little.
func TestInboxBoundedOnOverfilledPages(t *testing.T) {
	sim, m, _ := startSim(t, "mf920v", "pw", "pw")
	ctx := context.Background()
	if _, err := m.Capacity(ctx); err != nil {
		t.Fatal(err)
	}
	sim.SetFaults(func(f *SimFaults) { f.OverfillPages = 5000 })
	requests := sim.Record().Requests
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	msgs, err := m.Inbox(ctx)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, errInboxBound) || msgs != nil {
		t.Fatalf("%d messages, %v", len(msgs), err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	if alloc > 64<<20 {
		t.Errorf("one bounded read allocated %d MB", alloc>>20)
	}
	t.Logf("one over-filled read: %d MB allocated", alloc>>20)
	if n := sim.Record().Requests - requests; n != 1 {
		t.Errorf("%d requests, want 1: the first page already outgrows the bound", n)
	}
	if r, _ := m.inboxBound(); r != 2*(100+30) {
		t.Errorf("bound %d records, want twice the capacity (100 device + 30 SIM)", r)
	}
	// An honest full inbox is within the bound.
	sim.SetFaults(func(f *SimFaults) { f.OverfillPages = 0 })
	for i := 0; i < 100; i++ {
		sim.Deliver("+1555", strings.Repeat("long message ", 50), time.Now())
	}
	if msgs, err := m.Inbox(ctx); err != nil || len(msgs) != 100 {
		t.Errorf("a full inbox: %d, %v", len(msgs), err)
	}
}

// TestSendWaitsBeforeFirstStatusRead: asked at once, the modem reports the
// previous command's result. The first read waits sendSettle (1 s). In a
// synctest bubble over the in-memory network, at the default settle and a
// modem that needs most of it.
func TestSendWaitsBeforeFirstStatusRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, m := startSimPiped(t, "mf920v", "pw")
		if m.sendSettle != time.Second {
			t.Errorf("default settle %s, want 1s as the web UI", m.sendSettle)
		}
		sim.CmdSettle = 900 * time.Millisecond
		sim.cmdStatus["4"] = "2" // the previous send failed
		if err := m.Send(t.Context(), "+1555", "hi"); err != nil {
			t.Fatal(err)
		}
		reads := sim.Record().CmdReads
		// The read itself may cost a millisecond: the client's look at a
		// kept connection (idleQuietByDeadline on a pipe).
		if len(reads) == 0 || reads[0].SinceAction < m.sendSettle || reads[0].SinceAction > m.sendSettle+10*time.Millisecond {
			t.Errorf("status reads %+v, want the first %s after the action", reads, m.sendSettle)
		}
	})
}

// TestOneShotPostsOnce: `smsgate send` on AD firmware posted SEND_SMS three
// times; it logs in first and posts once.
func TestOneShotPostsOnce(t *testing.T) {
	for _, p := range []string{"mf297d", "mc888", "mf920v"} {
		t.Run(p, func(t *testing.T) {
			sim, err := NewSim(p, "pw")
			if err != nil {
				t.Fatal(err)
			}
			if err := sim.Start("127.0.0.1:0"); err != nil {
				t.Fatal(err)
			}
			defer sim.Close()
			var out, errb strings.Builder
			if err := runOneShot("send", []string{"-modem", sim.URL, "-password", "pw", "+21612345678", "hello"}, &out, &errb); err != nil {
				t.Fatalf("%v: %s", err, errb.String())
			}
			r := sim.Record()
			if n := len(postsOf(r, "SEND_SMS")); n != 1 || len(r.Logins) != 1 {
				t.Errorf("%d SEND_SMS posts, %d logins", n, len(r.Logins))
			}
		})
	}
}

// TestCapturedAnswersPerPersonality: testdata/modem/NAME holds answers
// shaped like real captured ones. The client decodes each, and the
// simulator of that personality answers with the same keys.
func TestCapturedAnswersPerPersonality(t *testing.T) {
	for _, name := range simPersonalityNames() {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", "modem", name)
			read := func(f string) []byte {
				b, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			p := simPersonalities[name]
			sim, m, _ := startSim(t, name, "pw", "pw")
			sim.Deliver("+21612345678", "status", time.Now())
			ctx := context.Background()
			if err := m.EnsureSession(ctx); err != nil {
				t.Fatal(err)
			}
			simGet := func(q url.Values) map[string]any {
				v, err := m.getJSON(ctx, q)
				if err != nil {
					t.Fatalf("sim %v: %v", q, err)
				}
				return v
			}

			// The inbox page.
			v, err := parseAnswer(read("list.json"))
			if err != nil {
				t.Fatal(err)
			}
			list := v["messages"].([]any)
			for _, item := range list {
				rec := item.(map[string]any)
				m.prepareRecord(rec) // the content's form (base64 on the F50), as the client reads a listing
				if s, ok := decodeRecord(rec, "device"); !ok || s.Problem != "" || s.Text == "" {
					t.Errorf("captured record: %+v", s)
				}
			}
			simList := simGet(url.Values{"cmd": {"sms_data_total"}, "page": {"0"}, "data_per_page": {"100"}, "mem_store": {"1"}, "tags": {"10"}, "order_by": {"order by id desc"}})["messages"].([]any)
			if len(simList) == 0 {
				t.Fatal("sim listed nothing")
			}
			if a, b := keysOf(list[0].(map[string]any)), keysOf(simList[0].(map[string]any)); a != b {
				t.Errorf("record keys: captured %s, sim %s", a, b)
			}

			// The capacity.
			v, err = parseAnswer(read("capacity.json"))
			if err != nil {
				t.Fatal(err)
			}
			c, err := parseCapacity(v)
			if err != nil || c.Total != 100 || c.Used != 12 {
				t.Errorf("captured capacity %+v, %v", c, err)
			}
			if a, b := keysOf(v), keysOf(simGet(url.Values{"cmd": {"sms_capacity_info"}})); a != b {
				t.Errorf("capacity keys: captured %s, sim %s", a, b)
			}

			// What the client reads before login.
			v, err = parseAnswer(read("prelogin.json"))
			if err != nil {
				t.Fatal(err)
			}
			if v["wa_inner_version"] != p.inner {
				t.Errorf("captured firmware %v", v["wa_inner_version"])
			}

			// config.js, where the firmware serves one.
			if b, err := os.ReadFile(filepath.Join(dir, "config.js")); err == nil {
				scheme, noLogin := parseConfigJS(b).scheme()
				want := map[int]string{0: schemeBase64, 1: schemeSHA256Base64, 2: schemeSHA256LD}[p.scheme]
				if p.noLogin {
					want = schemeNone
				}
				if scheme != want && scheme != "" || noLogin != p.noLogin {
					t.Errorf("captured config.js: %q %v, want %q", scheme, noLogin, want)
				}
				if p.configJS == "" {
					t.Error("the sim serves no config.js")
				}
			} else if p.configJS != "" {
				t.Error("the sim serves a config.js, no capture has one")
			}
		})
	}
}

func keysOf(v map[string]any) string {
	var ks []string
	for k := range v {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return fmt.Sprint(ks)
}

// TestSchemeReportedAsSent: an MC889 (model says sha256+LD) whose LD is
// blank gets base64, as the firmware then wants; the log, Probe (doctor's
// "scheme" line) and Detected said sha256+LD while base64 was sent (a
// witness). They name what is sent.
func TestSchemeReportedAsSent(t *testing.T) {
	p := simPersonalities["mc889"]
	p.servesLD = false
	sim, m, _ := startSimAs(t, p, "pw", "pw")
	logs := &bytes.Buffer{}
	m.log = slog.New(slog.NewTextHandler(logs, nil))
	ctx := context.Background()
	d, err := m.Probe(ctx)
	if err != nil || d.Login != schemeBase64 || !strings.Contains(d.LoginFrom, "LD blank") {
		t.Errorf("probe: %v, scheme %q from %q, want base64 (LD blank)", err, d.Login, d.LoginFrom)
	}
	if _, err := m.Poll(ctx); err != nil {
		t.Fatalf("poll: %v", err)
	}
	if d := m.Detected(); !d.LoggedIn || d.Login != schemeBase64 {
		t.Errorf("after login: %+v", d)
	}
	if !strings.Contains(logs.String(), "scheme="+schemeBase64) || strings.Contains(logs.String(), schemeSHA256LD+" ") {
		t.Errorf("log:\n%s", logs.String())
	}
	if n := len(sim.Record().Logins); n != 1 {
		t.Errorf("%d logins", n)
	}
}

// TestSchemeCandidatesSendEachPasswordOnce: with LD blank the salted
// scheme sends base64, so a refusal under it must not spend the next
// attempt on base64 again.
func TestSchemeCandidatesSendEachPasswordOnce(t *testing.T) {
	for _, model := range []string{"BD_MC889V1.0.0B04", "BD_ZX1V1"} {
		m, _ := NewModem(ModemConfig{URL: "http://127.0.0.1:1", Password: "pw"})
		m.det.Firmware = model
		cands, _, _ := m.schemeCandidates("")
		sent := map[string]bool{}
		for _, c := range cands {
			w := loginPassword(c, "pw", "")
			if sent[w] {
				t.Errorf("%s: candidates %v send one password twice", model, cands)
			}
			sent[w] = true
		}
	}
}
