//go:build !linux || nosim

package main

import (
	"context"
	"errors"
	"io"
)

// runATSimCtx: the AT simulator needs Linux pseudo-terminals and a build
// with the simulators.
func runATSimCtx(context.Context, []string, io.Reader, io.Writer, io.Writer) error {
	return badConfig(errors.New("the simulated AT module needs Linux and a build without -tags nosim"))
}
