package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// noStateModem is one row of the no-state-dir lock-out table: a modem
// that knows password "right", started on the test's clock.
type noStateModem struct {
	name string
	// counts: the modem reports attempts left and its count goes down,
	// so its own count outlives smsgate's restarts and logins go on.
	counts bool
	start  func(t *testing.T, clk *fakeClock) (url string, logins func() int)
}

func noStateModems() []noStateModem {
	hilink := func(personality string) func(t *testing.T, clk *fakeClock) (string, func() int) {
		return func(t *testing.T, clk *fakeClock) (string, func() int) {
			sim, err := NewHiLinkSim(personality, "right")
			if err != nil {
				t.Fatal(err)
			}
			sim.now = clk.Now
			if err := sim.Start("127.0.0.1:0"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sim.Close() })
			return sim.URL, func() int {
				return posts(sim.Requests(), "/api/user/login") + posts(sim.Requests(), "/api/user/authentication_login")
			}
		}
	}
	zte := func(personality string, faults func(*SimFaults)) func(t *testing.T, clk *fakeClock) (string, func() int) {
		return func(t *testing.T, clk *fakeClock) (string, func() int) {
			sim, err := NewSim(personality, "right")
			if err != nil {
				t.Fatal(err)
			}
			sim.now = clk.Now
			if faults != nil {
				sim.SetFaults(faults)
			}
			if err := sim.Start("127.0.0.1:0"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sim.Close() })
			return sim.URL, func() int { return len(sim.Record().Logins) }
		}
	}
	return []noStateModem{
		{name: "hilink-e3372h", start: hilink("e3372h")},
		{name: "hilink-b618-scram", start: hilink("b618")},
		{name: "ubus-u60pro", start: zte("u60pro", nil)},
		{name: "zte-mc888-stuck-counter", start: zte("mc888", nil)},
		{name: "zte-hidden-counter", start: zte("mf920v", func(f *SimFaults) { f.HideAttempts = true })},
		{name: "zte-mf920v-counts", counts: true, start: zte("mf920v", nil)},
	}
}

// daemonStart is one start of the daemon as main wires it: the port opened
// by detection, a gateway with the state in dir ("" none), a few polls.
func daemonStart(t *testing.T, url, password, dir string, clk *fakeClock, logs *lockedBuffer) modemPort {
	t.Helper()
	p, err := openTarget(context.Background(), portTarget{Config: ModemConfig{URL: url, Password: password, Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	setPortClock(p, clk)
	log := slog.New(slog.NewTextHandler(logs, nil))
	actions := &Actions{modem: p, reboot: &countingRebooter{}, host: fakeHost{uptime: 3 * time.Hour}, log: log}
	gw, err := NewGateway(gatewayConfigIn(t, dir), p, actions, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	gw.now = clk.Now
	for range 3 {
		gw.Step(context.Background())
		clk.Advance(time.Second)
	}
	return p
}

func setPortClock(p modemPort, clk *fakeClock) {
	switch m := p.(type) {
	case *Modem:
		m.now = clk.Now
	case *ubusModem:
		m.now = clk.Now
	case *hilinkModem:
		m.now = clk.Now
	}
}

// oneShotLogin is what the owner does at the site: a one-shot with the
// right password. It must get in: the modem is not locked.
func oneShotLogin(t *testing.T, url string, clk *fakeClock) error {
	t.Helper()
	p, err := openTarget(context.Background(), portTarget{Config: ModemConfig{URL: url, Password: "right", Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	setPortClock(p, clk)
	_, err = p.Inbox(context.Background())
	return err
}

// TestNoStateDirNeverLocksOut: without -state-dir smsgate cannot remember a
// refused login across a restart. A witness restarted it three times with a
// wrong password (SIGKILL within 3 s each): every start spent one attempt,
// the HiLink stick locked, and the owner's right password was refused. A
// login the modem does not count for smsgate is now posted only after it
// was written down; without a state dir it is not posted at all, said
// loudly. Where the modem counts (psw_fail_num_str going down), its count
// is the memory, and the daemon logs in without a state dir.
func TestNoStateDirNeverLocksOut(t *testing.T) {
	for _, c := range noStateModems() {
		t.Run(c.name, func(t *testing.T) {
			clk := newFakeClock()
			url, logins := c.start(t, clk)
			logs := &lockedBuffer{}
			if c.counts {
				p := daemonStart(t, url, "right", "", clk, logs)
				if logins() != 1 || !loggedIn(p) {
					t.Errorf("a modem that counts, the right password, no -state-dir: %d logins, want 1 and a session", logins())
				}
			}
			before := logins()
			// A crash loop over two hours: every hold smsgate keeps in
			// memory is long over at each start.
			for range 12 {
				daemonStart(t, url, "wrong", "", clk, logs)
				clk.Advance(10 * time.Minute)
			}
			spent := logins() - before
			if c.counts {
				if spent > maxAttempts-reservedAttempts {
					t.Errorf("%d wrong logins over 12 starts, want at most %d: the last %d are the owner's", spent, maxAttempts-reservedAttempts, reservedAttempts)
				}
				return
			}
			if err := oneShotLogin(t, url, clk); err != nil {
				t.Fatalf("after 12 starts with a wrong password (%d logins) the owner's right password: %v", spent, err)
			}
			if spent != 0 {
				t.Errorf("%d logins posted by 12 starts without a state dir, want none", spent)
			}
			if !strings.Contains(logs.String(), "-state-dir") {
				t.Errorf("the hold does not say what to do:\n%s", logs.String())
			}
		})
	}
}

// loggedIn: the port reads its inbox, which each family does only in a
// session.
func loggedIn(p modemPort) bool {
	_, err := p.Inbox(context.Background())
	return err == nil
}

// TestUnwritableStateDirHoldsLoginsUntilItTakesWrites: a state directory
// that refuses the write (read-only or full disk) is the same as none for
// a login the modem does not count: not posted. Once the disk takes
// writes, the next try logs in, with no restart.
func TestUnwritableStateDirHoldsLoginsUntilItTakesWrites(t *testing.T) {
	for _, c := range noStateModems() {
		if c.counts {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			clk := newFakeClock()
			url, logins := c.start(t, clk)
			root := t.TempDir()
			blocker := filepath.Join(root, "disk")
			if err := os.WriteFile(blocker, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(blocker, "smsgate") // under a file: every write fails
			p, err := openTarget(context.Background(), portTarget{Config: ModemConfig{URL: url, Password: "right", Timeout: 2 * time.Second}})
			if err != nil {
				t.Fatal(err)
			}
			setPortClock(p, clk)
			logs := &lockedBuffer{}
			log := slog.New(slog.NewTextHandler(logs, nil))
			gw, err := NewGateway(gatewayConfigIn(t, dir), p, &Actions{modem: p, reboot: &countingRebooter{}, host: fakeHost{uptime: 3 * time.Hour}, log: log}, nil, log)
			if err != nil {
				t.Fatal(err)
			}
			gw.now = clk.Now
			step := func(n int, every time.Duration) {
				for range n {
					gw.Step(context.Background())
					clk.Advance(every)
				}
			}
			step(5, time.Second)
			if n := logins(); n != 0 {
				t.Fatalf("%d logins while the state could not be written", n)
			}
			if err := os.Remove(blocker); err != nil {
				t.Fatal(err)
			}
			step(20, time.Minute)
			n := logins()
			if in := loggedIn(p); n != 1 || !in {
				t.Errorf("once the disk takes writes: %d logins, logged in %v\n%s", n, in, logs.String())
			}
		})
	}
}

// TestHiLinkLoginWrittenDownBeforeItIsPosted: HiLink's login had no record
// before it went out (ZTE's and ubus's had): a SIGKILL after the POST and
// before the poll's end made the attempt free to the next start. The
// state file holds the record when the POST arrives. A kill at that
// moment leaves a hold, not a refusal, so the right password logs in once
// the hold is over (not held until the password changes).
func TestHiLinkLoginWrittenDownBeforeItIsPosted(t *testing.T) {
	clk := newFakeClock()
	sim, err := NewHiLinkSim("e3372h", "right")
	if err != nil {
		t.Fatal(err)
	}
	sim.now = clk.Now
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	dir := t.TempDir()
	path := filepath.Join(dir, stateFile)
	var atPost [][]byte
	kill := true
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/api/user/login" {
			b, _ := os.ReadFile(path)
			atPost = append(atPost, b)
			if kill { // smsgate dies with the login on the wire
				if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
					c.Close()
				}
				return
			}
		}
		u, _ := url.Parse(sim.URL)
		httputil.NewSingleHostReverseProxy(u).ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	logs := &lockedBuffer{}
	daemonStart(t, front.URL, "right", dir, clk, logs)
	if len(atPost) != 1 {
		t.Fatalf("%d logins posted, want 1", len(atPost))
	}
	var st State
	if err := json.Unmarshal(atPost[0], &st); err != nil {
		t.Fatalf("no state written before the login was posted: %v (%q)", err, atPost[0])
	}
	r := st.LoginRefusals
	if r.Password != passwordFingerprint("right") || r.Count != 0 || !r.Until.After(clk.Now().Add(-5*time.Second)) {
		t.Fatalf("the record at the POST: %+v, want the hold of a lost answer and no refusal counted", r)
	}
	// The process died there: the file is as it was at the POST.
	if err := os.WriteFile(path, atPost[0], 0o600); err != nil {
		t.Fatal(err)
	}
	kill = false
	daemonStart(t, front.URL, "right", dir, clk, logs)
	if len(atPost) != 1 {
		t.Errorf("a restart within the hold posted a login at once")
	}
	clk.Advance(hilinkLockFallback)
	p := daemonStart(t, front.URL, "right", dir, clk, logs)
	if len(atPost) != 2 || !loggedIn(p) {
		t.Errorf("after the hold the right password: %d logins, logged in %v", len(atPost), loggedIn(p))
	}
}
