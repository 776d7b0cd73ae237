//go:build !unix

package main

import "errors"

func interruptSelf() error { return errors.New("no SIGINT to send on this system") }
