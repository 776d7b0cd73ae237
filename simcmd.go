//go:build !nosim

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// runSim serves the simulated modem: for the VM tests, the smoke test and a
// person trying smsgate without a modem. Release builds (-tags nosim) leave
// it out.
func runSim(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sim", "sim [flags]", stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "loopback `address` to serve on")
	personality := fs.String("personality", "mf920v", "the modem, any family: "+strings.Join(simFrontNames(), ", "))
	password := fs.String("password", "admin", "the simulated web UI password")
	replay := fs.String("replay", "", "answer like the modem of a `FILE` written by doctor -capture (instead of -personality)")
	var deliver repeatFlag
	fs.Var(&deliver, "deliver", "`NUMBER=TEXT` to put in the inbox at start; repeatable")
	dataDown := fs.Bool("data-down", false, "start with mobile data down (a reconnect brings it up)")
	capacity := fs.Int("capacity", 100, "how many SMS the simulated device memory holds")
	keepDeleted := fs.Bool("keep-deleted", false, "answer DELETE_SMS with success (and sms_cmd=6 done) but keep the messages: a faulty modem")
	fromStdin := fs.Bool("deliver-stdin", false, "put each NUMBER=TEXT line read from stdin in the inbox as it arrives (make bench's soak)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if _, ok := hilinkSimPersonalities[*personality]; (ok || isATSimPersonality(*personality)) && *replay == "" {
		return serveSimFront(*personality, *password, *listen, deliver, *dataDown, *fromStdin, stdout)
	}
	if *replay != "" {
		if handled, err := serveHiLinkReplay(*replay, *listen, stdout); handled {
			return err
		}
	}
	var sim *Sim
	var r *replaySpec
	if *replay != "" {
		var err error
		if r, err = loadReplay(*replay); err != nil {
			return badConfig(err)
		}
		sim = newReplaySim(r, *password)
		*personality = "replay of " + *replay
		for _, n := range r.notes {
			fmt.Fprintln(stdout, "replay:", n)
		}
	} else {
		var err error
		if sim, err = NewSim(*personality, *password); err != nil {
			return badConfig(err)
		}
	}
	if *capacity < 1 {
		return badConfig(fmt.Errorf("-capacity %d: want at least 1", *capacity))
	}
	sim.Capacity = simCapacity(fs, *capacity, r)
	for _, d := range deliver {
		from, text, ok := strings.Cut(d, "=")
		if !ok {
			return badConfig(fmt.Errorf("-deliver %q: want NUMBER=TEXT", d))
		}
		sim.Deliver(from, text, time.Now())
	}
	if *keepDeleted {
		sim.SetFaults(func(f *SimFaults) { f.DeleteSilentlyFails = true })
	}
	if *dataDown {
		sim.SetLink("ppp_disconnected", "4")
	}
	if err := sim.Start(*listen); err != nil {
		return err
	}
	if *fromStdin {
		go deliverLines(os.Stdin, sim.Deliver)
	}
	fmt.Fprintf(stdout, "simulated %s serving on %s\n", *personality, sim.URL)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// Say what the client does, as it happens: a person watching, or the
	// VM test reading the guest's console, sees the order of events.
	var seen SimRecord
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return sim.Close()
		case <-t.C:
		}
		r := sim.Record()
		for _, id := range r.Deleted[len(seen.Deleted):] {
			fmt.Fprintf(stdout, "sim: deleted sms %d\n", id)
		}
		for _, m := range r.Sent[len(seen.Sent):] {
			fmt.Fprintf(stdout, "sim: sent to %s: %s\n", m.Number, m.Text)
		}
		if r.Reboots > seen.Reboots {
			fmt.Fprintln(stdout, "sim: modem rebooting")
		}
		if r.Disconnects > seen.Disconnects {
			fmt.Fprintln(stdout, "sim: data disconnected")
		}
		if r.Connects > seen.Connects {
			fmt.Fprintln(stdout, "sim: data connected")
		}
		seen = r
	}
}

// serveSimFront serves a simulator of a family other than ZTE goform with
// the flags every family has, and says what it sent as it happens.
func serveSimFront(personality, password, listen string, deliver []string, dataDown, fromStdin bool, stdout io.Writer) error {
	sim, err := startSimFront(personality, password, listen)
	if err != nil {
		return badConfig(err)
	}
	defer sim.Close()
	for _, d := range deliver {
		from, text, ok := strings.Cut(d, "=")
		if !ok {
			return badConfig(fmt.Errorf("-deliver %q: want NUMBER=TEXT", d))
		}
		sim.Deliver(from, text, time.Now())
	}
	sim.SetData(!dataDown)
	if fromStdin {
		go deliverLines(os.Stdin, sim.Deliver)
	}
	// Before the address is said: whoever reads it may stop us at once.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	fmt.Fprintf(stdout, "simulated %s serving on %s\n", personality, sim.Addr())
	if strings.HasPrefix(sim.Addr(), "serial:") {
		fmt.Fprintf(stdout, "point smsgate at it with -modem %s\n", sim.Addr())
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	seen := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		sent := sim.Sent()
		for _, m := range sent[seen:] {
			fmt.Fprintf(stdout, "sim: sent to %s\n", m)
		}
		seen = len(sent)
	}
}

// deliverLines puts each NUMBER=TEXT line of r in the inbox as it arrives.
func deliverLines(r io.Reader, deliver func(from, text string, at time.Time) int64) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if from, text, ok := strings.Cut(sc.Text(), "="); ok {
			deliver(from, text, time.Now())
		}
	}
}
