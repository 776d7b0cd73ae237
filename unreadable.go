package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Records smsgate cannot read, and ids the modem lists with different
// messages: neither can be consumed the way a command must be (judged,
// removed, then run), so neither is acted on, and neither vanishes unseen.

// unreadableGrace is how long records must stay unreadable before the
// owner is told: a web login that replaced the key once is healed by the
// client's next key; one that keeps replacing it (the web UI left open)
// is not.
const unreadableGrace = 2 * time.Minute

// records is the messages listed under m's id: m alone, or m and the
// different messages the modem lists under the same id (SMS.Shared).
func (m SMS) records() []SMS {
	one := m
	one.Shared = nil
	return append([]SMS{one}, m.Shared...)
}

// logEach logs d once for each message listed under m's id.
func (g *Gateway) logEach(m SMS, d decision) {
	for _, r := range m.records() {
		g.logSMS(r, d)
	}
}

// waitUnreadable keeps a record smsgate cannot read: never judged, marked,
// deleted nor made room with, since it may be the owner's command. It says
// so once, even under an id known before: the record may be that message,
// unread this time, or a new one the modem gave the id (a slot an AT
// module reused, a command under the id of one it deleted late), which
// must not go unlogged. What was known of its id (decided, removed, a
// command deferred) is left as it was, but a removal due again is not
// retried: a retried delete must remove the message it was decided for,
// and this record may be another.
func (g *Gateway) waitUnreadable(m SMS, fp string) {
	delete(g.retryAt, m.ID) // the next readable listing of that message schedules it again
	w := g.waiting[m.ID]
	if w != nil && w.unreadable {
		w.fp = fp
		return
	}
	if _, said := g.unreadSaid[m.ID]; said {
		return
	}
	g.unreadSaid[m.ID] = ""
	_, decided := g.st.Decided[m.ID]
	_, removed := g.st.Removed[m.ID]
	reason := "unreadable (" + m.Unreadable +
		"); left untouched: not run, marked, deleted nor used to make room until smsgate can read it"
	if decided || removed || w != nil {
		g.logEach(m, decision{verdict: "incomplete", reason: reason +
			"; its id was seen before: it may be that message unread this time, or a new one"})
		return
	}
	g.logEach(m, decision{verdict: "incomplete", reason: reason})
	g.waiting[m.ID] = &waitingMsg{fp: fp, from: m.From, incomplete: true, unreadable: true, ran: map[string]bool{}}
}

// readAgain notes that id's record is readable, with fingerprint fp: the
// unreadable one logged under id was this message, or, when another was
// read under id since, a new one whose unreadable listing gets its line.
func (g *Gateway) readAgain(id int64, fp string) {
	said, ok := g.unreadSaid[id]
	switch {
	case !ok || said == fp:
	case said == "":
		g.unreadSaid[id] = fp
	default:
		delete(g.unreadSaid, id)
	}
}

// noteUnreadable tells the owner, at most once per fullNoticeGap, that the
// inbox holds n records smsgate could not read for unreadableGrace: they
// may be the owner's commands, and only the owner can end the cause (a
// web UI left open replaces the encryption key smsgate registers). The
// day is stamped (State.UnreadableNotice) when the alert went out: while
// the web UI re-keys, a RED send is refused too, and an alert dropped
// after its tries is queued again (unreadableRearm), a few times.
func (g *Gateway) noteUnreadable(n int, msgs []SMS) {
	now := g.now()
	ua := &g.unreadAlert
	if n == 0 {
		g.unreadableSince = time.Time{}
		ua.drops, ua.next = 0, time.Time{}
		return
	}
	if g.unreadableSince.IsZero() {
		g.unreadableSince = now
	}
	if now.Sub(g.unreadableSince) < unreadableGrace || ua.pending || now.Before(ua.next) {
		return
	}
	if last := g.st.UnreadableNotice; !last.IsZero() && now.Sub(last) < fullNoticeGap && !now.Before(last) {
		return
	}
	why := ""
	for _, m := range msgs {
		if m.Unreadable != "" {
			why = m.Unreadable
			break
		}
	}
	if ua.drops == 0 {
		g.log.Warn("inbox holds messages smsgate cannot read; they are left untouched", "messages", n, "why", why)
	}
	ua.pending = true
	g.alerts.AddWatched(now, fmt.Sprintf("smsgate cannot read %d message(s) in the modem inbox: %s. They are left there, not run nor deleted.",
		n, clip(why, 90)), &alertWatch{sent: g.unreadableTold, dropped: g.unreadableNotTold})
}

// unreadableAlert is where the alert of noteUnreadable is.
type unreadableAlert struct {
	pending bool      // queued, not sent nor dropped yet
	drops   int       // dropped unsent since the records became unreadable
	next    time.Time // not queued again before
}

// unreadableRearms is how many times an unreadable alert dropped unsent
// is queued again, unreadableRearm, then twice, four times later: each
// costs one of -alert-max, so a web UI open all day cannot take them all.
const unreadableRearms = 3

const unreadableRearm = 15 * time.Minute

// unreadableTold stamps the day of the unreadable alert once it went out.
func (g *Gateway) unreadableTold() {
	g.unreadAlert = unreadableAlert{}
	g.st.UnreadableNotice = g.now()
	g.store.Save(g.st)
}

// unreadableNotTold arms the unreadable alert again once dropped unsent;
// after unreadableRearms it is given up for the day, and said so.
func (g *Gateway) unreadableNotTold() {
	ua := &g.unreadAlert
	ua.pending = false
	ua.drops++
	if ua.drops > unreadableRearms {
		g.log.Warn("the alert about unreadable messages could not be sent; not tried again for a day", "tries", ua.drops)
		*ua = unreadableAlert{}
		g.st.UnreadableNotice = g.now()
		g.store.Save(g.st)
		return
	}
	ua.next = g.now().Add(unreadableRearm << (ua.drops - 1))
}

// decideShared decides an id the modem lists with different messages
// (another sender, or another text). Each is logged once with its own
// decision. None runs: a delete by id may remove them all (a stranger's
// message left for the owner would go unlogged as deleted) or only one
// (the one run could stay, and nothing would tell it from a new message
// under that id), so a command's removal cannot be settled before it
// runs, as every command's must. An allowed sender's command that would
// have run is refused, and its sender told why; it is remembered
// (State.SharedID) so that it never runs when listed alone later. The
// whole id is decided until its listing changes; then only the records
// not decided before under it (decided: their fingerprints) get a line: a
// third message, or the listing's order changed, is no new decision on
// the others (no second line, -on-sms run, reply nor flood count).
func (g *Gateway) decideShared(ctx context.Context, m SMS, decided map[string]bool, now, newestOwn time.Time) {
	plan := g.newPass(g.st.clone(), now, newestOwn, false)
	recs := m.records()
	var replies []outgoing
	for i, r := range recs {
		if decided[fingerprint(r)] {
			continue
		}
		var others []string
		for j, o := range recs {
			if j != i {
				others = append(others, fmt.Sprintf("%q", clip(o.From, 24)))
			}
		}
		shared := fmt.Sprintf("id %d is listed with %d other message(s) (from %s)", m.ID, len(others), strings.Join(others, ", "))
		v := g.sharedVerdict(plan, r, shared, now)
		if v.stranger {
			g.stranger(r, now)
		}
		if v.reply != "" {
			replies = append(replies, outgoing{r, v.reply, v.cmd.Name})
		}
		g.record(r, v)
	}
	g.st.Decided[m.ID] = fingerprint(m)
	// Saved before the replies: a restart must not tell the owner twice.
	g.store.Save(g.st)
	for _, r := range replies {
		if err := g.sendReply(ctx, r.m, r.text, r.cmd); err != nil {
			g.log.Warn("reply failed", "id", r.m.ID, "to", g.replyTo(r.m), "err", err)
		}
	}
}

// sharedVerdict is the decision on r, one of the messages listed under a
// shared id; plan judged on a copy of the state says what it would have
// been alone. now is the pass's reference time, the one State.prune
// forgets by: the Pi's clock may be decades off at a cold boot.
func (g *Gateway) sharedVerdict(plan *pass, r SMS, shared string, now time.Time) verdict {
	if !r.Complete {
		shared += "; parts missing"
	}
	if !g.allow[normalizeNumber(r.From, g.cfg.CountryCode)] {
		return verdict{decision: decision{verdict: "ignored", reason: "sender not in -allow; left in the inbox; " + shared}, stranger: true}
	}
	if !r.Complete {
		// Its command is not known yet, and it will not run: once
		// complete it is another record under the id, decided then.
		return verdict{decision: decision{verdict: "incomplete", reason: shared + "; left in the inbox; it will not run under a shared id"}}
	}
	pv := plan.judge(r)
	if !pv.run {
		return verdict{decision: decision{verdict: "ignored", command: pv.command,
			reason: shared + "; left in the inbox, and alone it would not run either: " + pv.verdict + ", " + pv.reason}}
	}
	g.st.SharedID[fingerprint(r)] = now
	return verdict{
		decision: decision{verdict: "rejected", command: pv.command,
			reason: shared + "; not run: a delete by id could remove the other message too, or not this one"},
		cmd: pv.cmd,
		reply: fmt.Sprintf("not executed: '%s' shares the modem's id %d with another SMS, so smsgate cannot remove it alone; delete it on the modem and send again",
			pv.cmd.Name, r.ID),
	}
}
