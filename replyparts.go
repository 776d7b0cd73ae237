package main

import "strings"

// maxReplyParts bounds -reply-parts: four concatenated parts are about 600
// characters, what a phone shows on one screen, and a price the owner
// chose.
const maxReplyParts = 4

// longReplies are the commands whose reply may use up to -reply-parts
// parts; besides them, the owner's -cmd programs. Everything else smsgate
// sends stays one SMS.
var longReplies = map[string]bool{"status": true, "help": true, "ussd": true}

// partsFor is how many parts the reply to command cmd may use.
func (k *ownerKit) partsFor(cmd string) int {
	if k == nil || k.cfg.ReplyParts <= 1 {
		return 1
	}
	if longReplies[cmd] || k.isProgram(cmd) {
		return k.cfg.ReplyParts
	}
	return 1
}

func (k *ownerKit) isProgram(cmd string) bool {
	for _, p := range k.g.actions.programs {
		if p.name == cmd {
			return true
		}
	}
	return false
}

// fitParts shortens text, if needed, so that it costs at most n parts,
// marking the cut as fitOneSMS does.
func fitParts(text string, n int) string {
	if n <= 1 {
		return fitOneSMS(text)
	}
	if smsParts(text) <= n {
		return text
	}
	ellipsis := "…"
	if _, ok := gsmSeptets(text); ok {
		ellipsis = "..."
	}
	runes := []rune(text)
	lo, hi := 0, len(runes)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if smsParts(string(runes[:mid])+ellipsis) <= n {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return string(runes[:lo]) + ellipsis
}

// programReplyText is what of a -cmd program's output its reply carries:
// the first line that says something, or, when replies may be longer,
// every such line.
func (a *Actions) programReplyText(out string) string {
	if a.own == nil || a.own.cfg.ReplyParts <= 1 {
		return firstLine(out)
	}
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, " / ")
}

// fitReply bounds a -cmd program's reply to what -reply-parts allows.
func (a *Actions) fitReply(reply string) string {
	n := 1
	if a.own != nil {
		n = a.own.cfg.ReplyParts
	}
	return fitParts(reply, n)
}
