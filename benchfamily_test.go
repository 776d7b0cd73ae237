//go:build bench && linux && !nosim

package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The modem families side by side: each family's simulator (on 127.0.0.1:0,
// or a pseudo-terminal for the AT module) driven by the real Gateway, the
// requests counted where the simulator receives them. Linux only: the AT
// simulator needs a pty.

func init() { benchFamilies = benchFamilyPart }

const (
	famIdlePolls   = 720 // an hour of the default -poll, on the fake clock
	famLatencyPoll = 200 * time.Millisecond
	famLatencyN    = 20  // per HTTP family
	famCMTIN       = 100 // for the AT module, whose p99 issue #22 asks for
	famATIdle      = time.Minute
	cmtiBudget     = 300 * time.Millisecond // issue #22
)

// benchFam is one row: a family and the simulator personality played.
type benchFam struct {
	family, personality string
	at                  bool // serial: +CMTI wakes the gateway, no login
}

var benchFams = []benchFam{
	{"ZTE goform, classic", "mf920v", false},
	{"ZTE goform, newer (base64 inbox)", "f50", false},
	{"ZTE goform, newer (RED encryption)", "mc889", false},
	{"ZTE ubus", "u60pro", false},
	{"Huawei HiLink", "e3372h", false},
	{"Huawei HiLink", "b618", false},
	{"AT module on a pty", "sim7600", true},
}

// famRig is a family's simulator and the client opened for it as the
// daemon opens it, with what the bench reads at the simulator.
type famRig struct {
	port     modemPort
	deliver  func(from, text string, at time.Time)
	requests func() int      // HTTP requests, or AT command lines, received
	logins   func() int      // nil: the family has no login
	commands func() []string // AT only: the command lines, in order
	sent     func() int      // the SMS the modem confirmed sending
}

// openFam starts f's simulator and a client for it; now is the clock of
// both (the fake clock of the idle hour, or time.Now).
func openFam(t *testing.T, f benchFam, now func() time.Time) *famRig {
	t.Helper()
	if f.at {
		fs, port := startATFamilyAs(t, newFakeClock(), f.personality)
		sim := fs.(atFamily).sim
		return &famRig{port: port, sent: func() int { return len(fs.Sent()) },
			deliver:  func(from, text string, at time.Time) { sim.Deliver(from, text, at) },
			requests: func() int { return len(sim.Commands()) }, commands: sim.Commands}
	}
	target := func(url string) modemPort {
		p, err := openTarget(context.Background(), portTarget{Config: ModemConfig{URL: url, Password: "pw", Timeout: 5 * time.Second}})
		if err != nil {
			t.Fatalf("%s: open: %v", f.personality, err)
		}
		switch m := p.(type) {
		case *Modem:
			m.now = now
		case *ubusModem:
			m.now = now
		case *hilinkModem:
			m.now = now
		default:
			t.Fatalf("%s: opened %T", f.personality, p)
		}
		return p
	}
	if strings.HasPrefix(f.family, "Huawei") {
		sim, err := NewHiLinkSim(f.personality, "pw")
		if err != nil {
			t.Fatal(err)
		}
		sim.now = now
		if err := sim.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sim.Close() })
		return &famRig{port: target(sim.URL), sent: func() int { return len(hilinkFamily{sim}.Sent()) },
			deliver:  func(from, text string, at time.Time) { sim.Deliver(from, text, at) },
			requests: func() int { return len(sim.Requests()) }, logins: sim.Logins}
	}
	sim, err := NewSim(f.personality, "pw")
	if err != nil {
		t.Fatal(err)
	}
	sim.now = now
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return &famRig{port: target(sim.URL), sent: func() int { return len(sim.Record().Sent) },
		deliver:  func(from, text string, at time.Time) { sim.Deliver(from, text, at) },
		requests: func() int { return sim.Record().Requests },
		logins:   func() int { return len(sim.Record().Logins) }}
}

// gateway is the real Gateway on rig's port, the owner allowed, an IR
// code "power" recorded instead of sent.
func (rig *famRig) gateway(t *testing.T, now func() time.Time, poll time.Duration, h slog.Handler) *Gateway {
	t.Helper()
	log := slog.New(h)
	actions := &Actions{modem: rig.port, reboot: &countingRebooter{}, ir: &recordingIR{}, host: fakeHost{uptime: 3 * time.Hour}, log: log}
	cfg := daemonGatewayConfig(t, "-rate", "100000", "-poll", poll.String())
	gw, err := NewGateway(cfg, rig.port, actions, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	gw.now = now
	return gw
}

// threadCPU is the calling thread's time on the CPU, in ns
// (/proc/thread-self/schedstat); the caller has locked its goroutine to
// the thread.
func threadCPU() (time.Duration, error) {
	b, err := os.ReadFile("/proc/thread-self/schedstat")
	if err != nil {
		return 0, fmt.Errorf("thread cpu: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, fmt.Errorf("thread cpu: empty schedstat")
	}
	ns, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("thread cpu: %w", err)
	}
	return time.Duration(ns), nil
}

// famIdle is what an idle run measured.
type famIdle struct {
	polls        int
	requests     int
	cpu          time.Duration
	logins       int // after the first poll's login; -1: no login
	wall         time.Duration
	perMinute    float64        // AT: command lines per idle minute
	commandCount map[string]int // AT: which ones
}

// idleHour steps the gateway by hand through an hour of 5 s polls on the
// fake clock (the simulator's sessions age on the same clock), after two
// polls of warm-up; the CPU is the stepping thread's.
func idleHour(t *testing.T, f benchFam) famIdle {
	clk := newFakeClock()
	rig := openFam(t, f, clk.Now)
	gw := rig.gateway(t, clk.Now, defaultPoll, slog.DiscardHandler)
	ctx := context.Background()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for i := 0; i < 2; i++ {
		gw.Step(ctx)
		clk.Advance(defaultPoll)
	}
	polls0, req0, log0 := gw.polls, rig.requests(), rig.logins()
	cpu0, err := threadCPU()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := 0; i < famIdlePolls; i++ {
		gw.Step(ctx)
		clk.Advance(defaultPoll)
	}
	cpu1, err := threadCPU()
	if err != nil {
		t.Fatal(err)
	}
	if got := gw.polls - polls0; got != famIdlePolls {
		t.Errorf("%s: %d of %d idle polls answered", f.personality, got, famIdlePolls)
	}
	return famIdle{polls: famIdlePolls, requests: rig.requests() - req0, cpu: cpu1 - cpu0,
		logins: rig.logins() - log0, wall: time.Since(start)}
}

// idleMinuteAT runs the daemon's loop (a Step per -poll 5s tick or per
// +CMTI) for a real minute: the module's liveness probe is on the real
// clock.
func idleMinuteAT(t *testing.T, f benchFam) famIdle {
	rig := openFam(t, f, time.Now)
	gw := rig.gateway(t, time.Now, defaultPoll, slog.DiscardHandler)
	ctx := context.Background()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	gw.Step(ctx)
	before := len(rig.commands())
	cpu0, err := threadCPU()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	tick := time.NewTicker(defaultPoll)
	defer tick.Stop()
	end := time.NewTimer(famATIdle)
	defer end.Stop()
	steps := 0
loop:
	for {
		select {
		case <-end.C:
			break loop
		case <-tick.C:
		case <-portEvents(rig.port):
		}
		gw.Step(ctx)
		steps++
	}
	cpu1, err := threadCPU()
	if err != nil {
		t.Fatal(err)
	}
	wall := time.Since(start)
	cmds := rig.commands()[before:]
	count := map[string]int{}
	for _, c := range cmds {
		count[c]++
	}
	return famIdle{polls: steps, requests: len(cmds), cpu: cpu1 - cpu0, logins: -1, wall: wall,
		perMinute: float64(len(cmds)) * float64(time.Minute) / float64(wall), commandCount: count}
}

// actionWatch is a log handler that notes when the gateway logs an action
// and an SMS's one line.
type actionWatch struct{ seen chan watchEvent }

type watchEvent struct {
	msg   string
	at    time.Time
	attrs string // for a failure's message
}

func (a *actionWatch) Enabled(context.Context, slog.Level) bool { return true }
func (a *actionWatch) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "action" || r.Message == "sms" {
		var attrs []string
		r.Attrs(func(a slog.Attr) bool { attrs = append(attrs, a.String()); return true })
		select {
		case a.seen <- watchEvent{r.Message, time.Now(), strings.Join(attrs, " ")}:
		default: // a full channel shows as a sample that times out
		}
	}
	return nil
}
func (a *actionWatch) WithAttrs([]slog.Attr) slog.Handler { return a }
func (a *actionWatch) WithGroup(string) slog.Handler      { return a }

// latency runs gateway.Run (the daemon's loop) at poll and delivers n
// "ir power" SMS from the owner, each at a random moment within spread
// after the previous one's reply went out and the loop was idle again; a sample is from the delivery to the
// gateway's action line.
func latency(t *testing.T, f benchFam, poll, spread time.Duration, n int) []time.Duration {
	rig := openFam(t, f, time.Now)
	w := &actionWatch{seen: make(chan watchEvent, 64)}
	gw := rig.gateway(t, time.Now, poll, w)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.Run(ctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(2 * poll) // logged in, first full read done
	lat := make([]time.Duration, 0, n)
	rnd := rand.New(rand.NewSource(22))
	for i := 0; i < n; i++ {
		// The modem dates an SMS to the second, and smsgate does not run
		// a command again that it ran after the SMS's date (a copy): each
		// SMS is filed in a second after the previous action.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
		time.Sleep(time.Duration(rnd.Int63n(int64(spread))))
		replies := rig.sent()
		sent := time.Now()
		rig.deliver(owner, "ir power", sent)
		var action time.Time
		var line string
		for got := false; !got; {
			select {
			case e := <-w.seen:
				if e.msg == "action" && action.IsZero() {
					action = e.at
				}
				got = e.msg == "sms"
				line = e.attrs
			case <-time.After(20 * time.Second):
				t.Errorf("%s: sample %d: no log line within 20s", f.personality, i)
				return lat
			}
		}
		if action.IsZero() {
			t.Errorf("%s: sample %d: the SMS was logged without an action: %s", f.personality, i, line)
			return lat
		}
		lat = append(lat, action.Sub(sent))
		if err := idleAgain(gw, rig, replies, poll); err != nil {
			t.Errorf("%s: sample %d: %v", f.personality, i, err)
			return lat
		}
	}
	return lat
}

// idleAgain waits until the reply to the command went out and the pass
// that sent it ended (the loop's beat after it), and for an HTTP family one
// poll more: the next SMS then finds the gateway idle, not in the previous
// reply's send.
func idleAgain(gw *Gateway, rig *famRig, replies int, poll time.Duration) error {
	deadline := time.Now().Add(20 * time.Second)
	for rig.sent() <= replies {
		if time.Now().After(deadline) {
			return fmt.Errorf("no reply within 20s")
		}
		time.Sleep(2 * time.Millisecond)
	}
	beats := 1
	if rig.logins != nil {
		beats = 2
	}
	for ; beats > 0; beats-- {
		since := time.Now()
		for !gw.LastBeat().After(since) {
			if time.Now().After(deadline) {
				return fmt.Errorf("the loop did not beat within 20s")
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	return nil
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}

func msFig(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }

// benchFamilyPart measures every row and writes the section.
func benchFamilyPart(t *testing.T, r *benchReport) {
	var rows, at strings.Builder
	started := time.Now()
	for _, f := range benchFams {
		var idle famIdle
		var lat []time.Duration
		poll := famLatencyPoll
		t.Run(f.personality, func(t *testing.T) {
			if f.at {
				idle = idleMinuteAT(t, f)
				poll = defaultPoll
				lat = latency(t, f, defaultPoll, 300*time.Millisecond, famCMTIN)
			} else {
				idle = idleHour(t, f)
				lat = latency(t, f, famLatencyPoll, famLatencyPoll, famLatencyN)
			}
		})
		slices.Sort(lat)
		logins := "— (no login)"
		if idle.logins >= 0 {
			logins = strconv.Itoa(idle.logins)
		}
		perPoll, cpu := "—", "—"
		if idle.polls > 0 {
			perPoll = fmt.Sprintf("%.3f", float64(idle.requests)/float64(idle.polls))
			cpu = us(idle.cpu / time.Duration(idle.polls))
		}
		fmt.Fprintf(&rows, "| %s | `%s` | %s | %s | %s | %s / %s (n=%d, -poll %s) |\n", f.family, f.personality,
			perPoll, cpu, logins, msFig(pct(lat, 50)), msFig(pct(lat, 99)), len(lat), poll)
		if f.at {
			p99 := pct(lat, 99)
			r.budget(budgetRow{order: 51, what: "+CMTI-to-action latency p99, " + f.personality + " on a pty at -poll 5s (issue #22)",
				budget: "≤ " + cmtiBudget.String(), measured: fmt.Sprintf("p50 %s, p99 %s (n=%d)", msFig(pct(lat, 50)), msFig(p99), len(lat)),
				holds: len(lat) == famCMTIN && p99 <= cmtiBudget})
			names := make([]string, 0, len(idle.commandCount))
			for c := range idle.commandCount {
				names = append(names, c)
			}
			sort.Strings(names)
			var list []string
			for _, c := range names {
				list = append(list, fmt.Sprintf("`%s` ×%d", c, idle.commandCount[c]))
			}
			if len(list) == 0 {
				list = []string{"none"}
			}
			fmt.Fprintf(&at, "- %s: %.1f AT commands per idle minute (%d in %s of the daemon's loop at -poll 5s, %d passes); they were: %s\n",
				f.personality, idle.perMinute, idle.requests, idle.wall.Round(time.Second), idle.polls, strings.Join(list, ", "))
		}
	}
	var b strings.Builder
	b.WriteString("## Modem families side by side\n\n")
	b.WriteString("Each family's simulator, in the bench's process, on 127.0.0.1 (the AT module on a pseudo-terminal\n")
	b.WriteString("the bench made), driven by the real `Gateway`; requests are counted where the simulator receives\n")
	b.WriteString("them (HTTP requests; for the AT module, command lines). Password `pw`, the owner allowed, an IR code\n")
	b.WriteString("`power` recorded instead of sent.\n\n")
	fmt.Fprintf(&b, "- HTTP families, idle: two polls of warm-up (the login, the first full read), then %d polls of\n", famIdlePolls)
	b.WriteString("  `Gateway.Step` by hand on a fake clock moved 5 s (the default -poll) after each: an hour of the\n")
	b.WriteString("  modem's and simulator's time, so sessions age and the periodic full reads happen as in an hour.\n")
	b.WriteString("  Logins per hour are the logins the simulator saw in that hour, after the warm-up's.\n")
	fmt.Fprintf(&b, "- AT module, idle: the daemon's loop (a `Step` per 5 s tick or per +CMTI) for %s of real time, as its\n", famATIdle)
	b.WriteString("  liveness probe runs on the real clock; per poll is command lines over the loop's passes.\n")
	b.WriteString("- CPU per idle poll: the stepping goroutine is locked to its thread, and that thread's time on\n")
	b.WriteString("  the CPU (`/proc/thread-self/schedstat`) is divided by the polls: the client's work (building,\n")
	b.WriteString("  the syscalls, parsing, the gateway's logic), not the simulator's nor the garbage collector's\n")
	b.WriteString("  background workers. Not comparable with the section `CPU per poll` above, which is the whole process.\n")
	fmt.Fprintf(&b, "- Latency: `Gateway.Run` (the daemon's loop); an `ir power` SMS from the owner is filed in the simulator\n")
	b.WriteString("  in the second after the previous one's reply went out and the loop went idle again (the pass that\n")
	b.WriteString("  sent it ended; for HTTP one poll more), at a random moment of it (the modem dates an SMS to the\n")
	b.WriteString("  second, and a copy dated before the command last ran is not run again); a sample is from the\n")
	b.WriteString("  filing to the gateway's\n")
	fmt.Fprintf(&b, "  `action` log line. HTTP families poll at -poll %s (n=%d), so their latency is bound by the poll\n", famLatencyPoll, famLatencyN)
	b.WriteString("  interval (at the default 5 s it is up to 5 s plus the same work); the AT module runs at the default\n")
	fmt.Fprintf(&b, "  -poll 5s (n=%d) and acts on the +CMTI indication, not the poll.\n\n", famCMTIN)
	b.WriteString("| family | simulator | requests per idle poll | CPU per idle poll (client thread) | logins per idle hour | SMS-to-action p50 / p99 |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	b.WriteString(rows.String())
	b.WriteString("\n" + at.String())
	b.WriteString("\nThe linux/arm release binary against its 6.5 MiB budget is in the Budgets table and under Size.\n")
	fmt.Fprintf(&b, "\nThis part took %s.\n", time.Since(started).Round(time.Second))
	r.section(55, b.String())
}
