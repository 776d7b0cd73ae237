//go:build periph_all

package main

// Every board periph knows, as host.Init registers them: for boards other
// than a Pi.
import _ "periph.io/x/host/v3"
