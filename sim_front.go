//go:build !nosim

package main

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// simFront is what `smsgate sim` and `smsgate demo` need of a simulated
// modem, whatever its family: messages in, what it was asked to send, the
// link and the power, and the address -modem takes.
type simFront interface {
	Deliver(from, text string, at time.Time) int64
	// Sent is every SMS it sent, "NUMBER: TEXT", in order.
	Sent() []string
	SetData(up bool)
	SetReachable(up bool)
	// Addr is what -modem takes to reach it.
	Addr() string
	Close() error
}

// simFamilies are the personalities of every family's simulator, so that
// one -personality flag picks the family too.
func simFrontNames() []string {
	names := simPersonalityNames()
	for n := range hilinkSimPersonalities {
		names = append(names, n)
	}
	names = append(names, simUbusNames()...)
	names = append(names, atSimFrontNames()...) // on a pty: sim_front_at.go
	sort.Strings(names)
	return names
}

// startSimFront starts the simulator of personality on addr (loopback).
func startSimFront(personality, password, addr string) (simFront, error) {
	if f, ok, err := startATFront(personality); ok {
		return f, err // on a pseudo-terminal: addr is not used
	}
	if _, ok := hilinkSimPersonalities[personality]; ok {
		s, err := NewHiLinkSim(personality, password)
		if err != nil {
			return nil, err
		}
		if err := s.Start(addr); err != nil {
			return nil, err
		}
		return hilinkFront{s}, nil
	}
	s, err := NewSim(personality, password)
	if err != nil {
		return nil, fmt.Errorf("%w (every family: %s)", err, strings.Join(simFrontNames(), ", "))
	}
	if err := s.Start(addr); err != nil {
		return nil, err
	}
	return zteFront{s}, nil
}

type zteFront struct{ *Sim }

func (z zteFront) Sent() []string {
	var out []string
	for _, s := range z.Record().Sent {
		out = append(out, s.Number+": "+s.Text)
	}
	return out
}

func (z zteFront) SetData(up bool) {
	if up {
		z.SetLink(z.p.connected, "4")
	} else {
		z.SetLink("ppp_disconnected", "0")
	}
}

func (z zteFront) SetReachable(up bool) {
	z.SetFaults(func(f *SimFaults) { f.Unreachable = !up })
}

func (z zteFront) Addr() string { return z.URL }

type hilinkFront struct{ *HiLinkSim }

func (h hilinkFront) Sent() []string {
	var out []string
	for _, s := range h.HiLinkSim.Sent() {
		out = append(out, s.To+": "+s.Text)
	}
	return out
}

func (h hilinkFront) SetData(up bool)      { h.DropData(!up) }
func (h hilinkFront) SetReachable(up bool) { h.SetUnreachable(!up) }
func (h hilinkFront) Addr() string         { return h.URL }
