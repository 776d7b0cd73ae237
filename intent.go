package main

import (
	"context"
	"errors"
	"net"
	"time"
)

// Write-ahead intents. A pass takes the commands it consumes off the modem
// before it runs anything; a crash (SIGKILL, power cut) between the
// modem's delete and the next save would lose a command without trace: gone
// from the modem, never run, never answered, nothing in the log or the
// state. So before the modem is asked to remove a message, what is about to
// be consumed and what was decided is saved (State.Intents, written and
// synced), and each intent moves on as the pass does:
//
//	removing  saved before the delete; nothing decided in State, nothing run
//	decided   saved with the decision (rate count, duplicate rule): the
//	          action may run from here on
//	ran       the action returned; its reply is saved, still to be sent
//	(cleared) the reply went out (or the disruptive action returned)
//
// On start the first listing finishes or reports every intent found (see
// finishIntents): nothing is run again blindly and nothing is dropped
// silently.
const (
	intentRemoving = "removing"
	intentDecided  = "decided"
	intentRan      = "ran"
)

// intent is one consumed message on its way through a pass.
type intent struct {
	ID      int64     `json:"id"`
	FP      string    `json:"fp"`
	To      string    `json:"to"` // where replies and reports go: the allowed number
	Command string    `json:"command,omitempty"`
	Verdict string    `json:"verdict"` // as planned, then as decided
	Sent    time.Time `json:"sent,omitzero"`
	At      time.Time `json:"at"` // by the Pi's clock, when saved
	Stage   string    `json:"stage"`
	Reply   string    `json:"reply,omitempty"` // stage ran: still to send
	Tries   int       `json:"tries,omitempty"` // reports: sends that failed
	// Sending: a report handed to the modem, saved before the send. Found
	// so after a restart, it may have gone out: never sent again.
	Sending bool `json:"sending,omitempty"`
}

// crashAt is a test hook: called at each step of a pass, it may end the
// goroutine there (runtime.Goexit), as a SIGKILL would end the process.
func (g *Gateway) crashAt(step string) {
	if g.crashHook != nil {
		g.crashHook(step)
	}
}

// intend saves an intent for every message the plan consumes, before the
// modem is asked to remove any.
func (g *Gateway) intend(todo []SMS, planned []verdict) {
	at := g.now()
	for i, m := range todo {
		v := planned[i]
		if !v.remove {
			continue
		}
		in := intent{ID: m.ID, FP: fingerprint(m), To: g.replyTo(m), Command: v.command, Verdict: v.verdict,
			At: at, Stage: intentRemoving}
		if plausible(m.Time) {
			in.Sent = m.Time
		}
		if old := g.intentFor(m.ID); old != nil {
			// Deferred before, its removal tried again: the same intent
			// is not written again at every poll.
			if old.FP != in.FP || old.Stage != intentRemoving || old.Verdict != in.Verdict {
				*old = in
			}
			continue
		}
		g.st.Intents = append(g.st.Intents, in)
	}
	g.store.Save(g.st)
}

// intentFor is the saved intent of message id, nil if none.
func (g *Gateway) intentFor(id int64) *intent {
	for i := range g.st.Intents {
		if g.st.Intents[i].ID == id {
			return &g.st.Intents[i]
		}
	}
	return nil
}

// intentStage moves the intent of id to stage with the decision as made.
func (g *Gateway) intentStage(id int64, stage string, d decision, reply string) {
	if in := g.intentFor(id); in != nil {
		in.Stage, in.Verdict, in.Command, in.Reply = stage, d.verdict, d.command, reply
	}
}

// dropIntent forgets the intent of id: its message is settled.
func (g *Gateway) dropIntent(id int64) {
	for i := range g.st.Intents {
		if g.st.Intents[i].ID == id {
			g.st.Intents = append(g.st.Intents[:i], g.st.Intents[i+1:]...)
			return
		}
	}
}

// finishIntents settles, at the first listing after a start, the intents
// a crash left, by what the inbox shows:
//
//   - removing, still listed: the delete never happened; nothing was
//     decided nor run, and the message is decided afresh as if new.
//   - removing, listed unreadable: it may be that message, unread this
//     time (a web UI re-keys). It waits, neither finished nor reported,
//     until the record can be read or is gone: told "not run" while it
//     is in the inbox, the owner would see it run once readable.
//   - removing, not listed: taken off the modem and never run; the owner
//     is told (SMS and log) that it did not run.
//   - decided: the action may or may not have run. It is not run again;
//     the owner is told (SMS and log). A Pi reboot the uptime shows done
//     is only logged.
//   - ran: the action ran and its reply was not sent: it is sent now.
//
// It reports whether all are settled; until then each listing settles
// those that waited, and only those (the others are live passes').
func (g *Gateway) finishIntents(msgs []SMS) (settled bool) {
	if len(g.st.Intents) == 0 {
		return true
	}
	listed := map[int64]string{}
	unread := map[int64]bool{}
	for _, m := range msgs {
		listed[m.ID] = fingerprint(m)
		unread[m.ID] = m.Unreadable != ""
	}
	var keep []intent
	held := map[int64]bool{}
	for _, in := range g.st.Intents {
		if g.heldIntents != nil && !g.heldIntents[in.ID] {
			keep = append(keep, in) // a live pass's, made since the start
			continue
		}
		if in.Stage == intentRemoving && unread[in.ID] {
			if !g.heldIntents[in.ID] {
				g.log.Info("restart: a removal was not settled and its message is listed unreadable; it waits until it can be read or is gone",
					"id", in.ID, "from", in.To, "command", in.Command, "planned", in.Verdict, "stage", in.Stage)
			}
			held[in.ID] = true
			keep = append(keep, in)
			continue
		}
		if in.Stage == intentRemoving && listed[in.ID] == in.FP && g.cfg.MarkRead {
			// Marked read by the pass that crashed, perhaps: still a
			// command to decide, not one "already read" by the owner.
			if g.markedByUs == nil {
				g.markedByUs = map[int64]string{}
			}
			g.markedByUs[in.ID] = in.FP
		}
		if text := g.finishIntent(in, listed[in.ID] == in.FP); text != "" {
			in.Reply = text
			g.st.Reports = append(g.st.Reports, in)
		}
	}
	g.heldIntents = held
	g.st.Intents = keep
	g.store.Save(g.st)
	return len(held) == 0
}

// sendReports sends the owner the reports finishIntents left, after the
// pass (an owner's new command first), each forgotten once sent: a crash
// in between sends only those not sent yet. One the modem does not send
// waits for the next poll; after reportTries it goes to the alerts, which
// have their own back-off.
func (g *Gateway) sendReports(ctx context.Context) {
	for len(g.st.Reports) > 0 && ctx.Err() == nil {
		r := &g.st.Reports[0]
		if r.Sending {
			// A crash came while it was being sent: once is the most a
			// report is said (the reply it stands for may have gone out
			// too; witness: one reply six times under repeated kills).
			g.log.Warn("report not sent again: a restart cut its send, it may have gone out", "to", r.To, "report", r.Reply)
			g.st.Reports = g.st.Reports[1:]
			g.store.Save(g.st)
			continue
		}
		r.Sending = true
		g.store.Save(g.st)
		if err := g.modem.Send(ctx, r.To, fitOneSMS(r.Reply)); err != nil {
			if !notSent(err) {
				g.log.Warn("report may not have been sent; not sent again", "to", r.To, "err", err)
				g.st.Reports = g.st.Reports[1:]
				g.store.Save(g.st)
				continue
			}
			r.Sending = false
			if r.Tries++; r.Tries < reportTries {
				g.log.Warn("report not sent; tried again next poll", "to", r.To, "tries", r.Tries, "err", err)
				g.store.Save(g.st)
				return
			}
			g.log.Warn("report not sent; left to the alerts", "to", r.To, "tries", r.Tries, "err", err)
			g.alert(g.now(), r.Reply)
		}
		g.st.Reports = g.st.Reports[1:]
		g.store.Save(g.st)
	}
}

const reportTries = 3

// notSent says whether a failed send surely did not go out: the modem
// was not reached, or refused it. Anything else (no confirmation, an
// answer lost) may have gone out.
func notSent(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial" || errors.Is(err, errRefused) || errors.Is(err, errUnsupported)
}

// finishIntent logs what a crash left of in, and returns what the owner
// must be told by SMS ("" for nothing).
func (g *Gateway) finishIntent(in intent, listed bool) string {
	attrs := []any{"id", in.ID, "from", in.To, "command", in.Command, "planned", in.Verdict, "stage", in.Stage}
	what := "'" + in.Command + "'"
	if !in.Sent.IsZero() {
		what += " (sent " + in.Sent.Format("Jan 2 15:04") + ")"
	}
	run := in.Verdict == "executed"
	switch {
	case in.Stage == intentRemoving && listed:
		g.log.Info("restart: a removal was not done; the message is decided afresh", attrs...)
	case in.Stage == intentRemoving && !run:
		g.log.Warn("restart: a message was taken off the modem before its decision was saved; it was not a command to run", attrs...)
	case in.Stage == intentRemoving:
		g.log.Warn("restart: a command was taken off the modem and NOT run; the owner is told", attrs...)
		return "smsgate restarted: " + what + " was taken off the modem but not run; send it again if still wanted"
	case in.Stage == intentDecided && run && g.rebootDone(in):
		g.log.Info("restart: the reboot asked for ran", attrs...)
	case in.Stage == intentDecided && run:
		g.log.Warn("restart: a command may or may not have run; it is NOT run again; the owner is told", attrs...)
		return "smsgate restarted while running " + what + ": it may or may not have run; not run again. Send 'status' to check"
	case in.Stage == intentDecided:
		g.log.Warn("restart: a decided message's reply may not have been sent", attrs...)
	case in.Stage == intentRan && in.Reply != "":
		// The crash may have come after it went out: said so.
		g.log.Info("restart: sending the reply a crash held back", attrs...)
		return "after a restart: " + in.Reply
	default:
		g.log.Info("restart: a settled message", attrs...)
	}
	return ""
}

// rebootDone says whether in, a Pi reboot, happened: the Pi booted after it
// was decided.
func (g *Gateway) rebootDone(in intent) bool {
	cmd, ok := g.actions.parse(in.Command)
	if !ok || !cmd.RebootLimited() {
		return false
	}
	up, err := g.actions.uptime()
	return err == nil && g.now().Add(-up).After(in.At)
}

// settleIntents drops, once the replies went out, the intents of the
// messages consumed in this pass (ids), but for keep, the disruptive action
// still to run, and those whose removal was deferred (still "removing").
// It reports whether it dropped any.
func (g *Gateway) settleIntents(ids []int64, keep int64) bool {
	n := len(g.st.Intents)
	for _, id := range ids {
		if in := g.intentFor(id); id != keep && in != nil && in.Stage != intentRemoving {
			g.dropIntent(id)
		}
	}
	return len(g.st.Intents) != n
}
