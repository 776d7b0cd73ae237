//go:build nosim

package main

import (
	"errors"
	"io"
)

// A release build for the Pi (-tags nosim) leaves out the simulated modem,
// and the demo that plays against it: a Pi never needs them, and they cost
// the arm binary about 330 KB, net/http's server among it (BENCHMARKS.md).

var errNoSim = errors.New("this build leaves out the simulated modem (built with -tags nosim); use a build without that tag, e.g. `make build`")

func runSim([]string, io.Writer, io.Writer) error { return badConfig(errNoSim) }

func runDemo([]string, io.Reader, io.Writer, io.Writer) error { return badConfig(errNoSim) }
