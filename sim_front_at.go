//go:build linux && !nosim

package main

import (
	"sort"
	"time"
)

// The AT simulator behind `smsgate sim` and `smsgate demo`: a module on a
// pseudo-terminal, reached with -modem serial:<device>.

func atSimFrontNames() []string {
	var names []string
	for n := range atSimPersonalities {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// startATFront starts the AT simulator if personality is one of its
// modules; ok false when it is not.
func startATFront(personality string) (front simFront, ok bool, err error) {
	if _, ok := atSimPersonalities[personality]; !ok {
		return nil, false, nil
	}
	s, err := startATSim(personality)
	if err != nil {
		return nil, true, err
	}
	return atFront{s}, true, nil
}

func isATSimPersonality(name string) bool {
	_, ok := atSimPersonalities[name]
	return ok
}

type atFront struct{ *ATSim }

// Deliver files the message; 0 when the store was full (the demo says the
// SMS was lost), else the lowest index of its parts plus one.
func (a atFront) Deliver(from, text string, at time.Time) int64 {
	_, i := a.DeliverWhere(from, text, at, 0)
	return int64(i) + 1
}

// Sent joins the parts of each message the module took.
func (a atFront) Sent() []string {
	var out []string
	var text string
	for _, s := range a.ATSim.Sent() {
		if s.Part <= 1 {
			text = ""
		}
		text += s.Text
		if s.Part >= s.Total {
			out = append(out, s.To+": "+text)
		}
	}
	return out
}

// SetReachable unplugs the module (the device node vanishes) or plugs it
// back, freshly booted.
func (a atFront) SetReachable(up bool) {
	if up {
		a.Replug()
	} else {
		a.Unplug()
	}
}

func (a atFront) Addr() string { return "serial:" + a.DevicePath() }

func (a atFront) Close() error {
	a.ATSim.Close()
	return nil
}
