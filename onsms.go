package main

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// onSMSQueue bounds the messages waiting for the -on-sms program: a flood
// must not grow memory, nor hold up the poll loop.
const onSMSQueue = 16

// onSMSJob is one decided message, as the program sees it.
type onSMSJob struct {
	from, date, text string
	decision         string
	allowed          bool
}

// env is the program's environment: smsgate's without its secrets, and
// the message. The text is the log's: never the PIN or a one-time code.
func (j onSMSJob) env() []string {
	allowed := "0"
	if j.allowed {
		allowed = "1"
	}
	return append(programEnv(),
		"SMS_FROM="+envSafe(j.from), "SMS_DATE="+envSafe(j.date), "SMS_TEXT="+envSafe(j.text),
		"SMS_DECISION="+envSafe(j.decision), "SMS_ALLOWED="+allowed)
}

// envSafe drops what an environment value cannot hold.
func envSafe(s string) string { return strings.ReplaceAll(s, "\x00", "") }

// parseOnSMS reads -on-sms "PROGRAM [ARG...]" and checks the program now,
// as -cmd's are: a missing one is a configuration error at start.
func parseOnSMS(flag string, timeout time.Duration) (*program, error) {
	words := strings.Fields(flag)
	if len(words) == 0 {
		return nil, nil
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("-cmd-timeout %s: want a positive duration", timeout)
	}
	p := &program{name: "on-sms", path: words[0], args: words[1:], timeout: timeout}
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("-on-sms: %w", err)
	}
	return p, nil
}

// onSMSRunner runs the -on-sms program once per decided message, one at a
// time, on a goroutine of its own: the poll loop only queues, and what
// does not fit in the queue is dropped and logged.
type onSMSRunner struct {
	p      *program
	dryRun bool
	log    *slog.Logger
	jobs   chan onSMSJob
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	dropped int // since the last run that said so
	closed  bool
	started bool
}

func newOnSMSRunner(p *program, dryRun bool, log *slog.Logger) *onSMSRunner {
	ctx, cancel := context.WithCancel(context.Background())
	return &onSMSRunner{p: p, dryRun: dryRun, log: log, jobs: make(chan onSMSJob, onSMSQueue),
		ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

// enqueue never blocks.
func (r *onSMSRunner) enqueue(j onSMSJob) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if !r.started {
		r.started = true
		go r.loop()
	}
	select {
	case r.jobs <- j:
	default:
		if r.dropped == 0 {
			r.log.Warn("on-sms: queue full; messages not given to the program", "queue", onSMSQueue, "from", j.from)
		}
		r.dropped++
	}
}

func (r *onSMSRunner) loop() {
	defer close(r.done)
	for {
		select {
		case <-r.ctx.Done():
			return
		case j := <-r.jobs:
			r.run(j)
		}
	}
}

func (r *onSMSRunner) run(j onSMSJob) {
	r.mu.Lock()
	dropped := r.dropped
	r.dropped = 0
	r.mu.Unlock()
	if dropped > 0 {
		r.log.Warn("on-sms: messages dropped while the queue was full", "dropped", dropped)
	}
	if r.dryRun {
		r.log.Info("action", "action", "on-sms", "detail", r.p.path, "dry_run", true)
		return
	}
	c := exec.Command(r.p.path, r.p.args...)
	c.Dir = "/"
	c.Env = j.env()
	res, err := execute(r.ctx, c, r.p.timeout)
	if err != nil {
		r.log.Error("on-sms: program did not start", "path", r.p.path, "err", err)
		return
	}
	r.log.Info("on-sms", "path", r.p.path, "from", j.from, "decision", j.decision, "exit", res.exitCode,
		"signal", res.signal, "timed_out", res.timedOut, "elapsed", res.elapsed.Round(time.Millisecond),
		"output", sanitizeText(string(res.output.Bytes())), "output_dropped", res.output.dropped)
}

// close stops taking messages and ends the runner: a program running is
// killed with its process group. It returns once the runner is gone.
func (r *onSMSRunner) close() {
	r.mu.Lock()
	r.closed = true
	started := r.started
	r.mu.Unlock()
	r.cancel()
	if started {
		<-r.done
	}
}
