//go:build linux && !nosim

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// runATSimCtx serves a simulated AT module on a pseudo-terminal until ctx
// ends, and prints the -modem value that reaches it: for a person trying
// the AT family without a module, and for demos. To be wired as a
// subcommand (`smsgate atsim`) with a context that SIGINT/SIGTERM end.
func runATSimCtx(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("atsim", "atsim [flags]", stderr)
	personality := fs.String("personality", "sim7600", "module: sim7600, ec25, sim800")
	var deliver repeatFlag
	fs.Var(&deliver, "deliver", "`NUMBER=TEXT` to store at start; repeatable")
	fromStdin := fs.Bool("deliver-stdin", false, "store each NUMBER=TEXT line read from stdin as it arrives (with +CMTI)")
	linkDown := fs.Bool("link-down", false, "start off the network")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	sim, err := startATSim(*personality)
	if err != nil {
		return badConfig(err)
	}
	defer sim.Close()
	sim.SetLink(!*linkDown)
	for _, d := range deliver {
		from, text, ok := strings.Cut(d, "=")
		if !ok {
			return badConfig(fmt.Errorf("-deliver %q: want NUMBER=TEXT", d))
		}
		sim.Deliver(from, text, time.Now())
	}
	fmt.Fprintf(stdout, "simulated %s: -modem serial:%s\n", *personality, sim.DevicePath())
	if *fromStdin {
		go func() {
			sc := bufio.NewScanner(stdin)
			for sc.Scan() {
				if from, text, ok := strings.Cut(sc.Text(), "="); ok {
					sim.Deliver(from, text, time.Now())
				}
			}
		}()
	}
	<-ctx.Done()
	for _, a := range sim.Actions() {
		fmt.Fprintln(stdout, "module did:", a)
	}
	return nil
}
