//go:build !nosim

package main

import (
	"fmt"
	"net"
	"net/http"
	"time"
)

// serveLoopback serves h on addr, which must be a loopback address: a
// simulator is never reachable from another machine. It returns the URL
// the client takes.
func serveLoopback(what, addr string, h http.Handler) (string, *http.Server, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, fmt.Errorf("%s listen %q: %w", what, addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", nil, fmt.Errorf("%s listen %q: only loopback addresses are allowed", what, addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("%s listen: %w", what, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), srv, nil
}
