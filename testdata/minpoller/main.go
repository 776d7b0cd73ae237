// Command minpoller is the yardstick of `make bench`: the least a Go
// program can do to read the modem's status once per tick, one GET with
// net/http, body discarded. smsgate's cost per poll is measured beside it.
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"time"
)

func main() {
	url := flag.String("url", "", "the URL to GET each tick (loopback only: the bench's simulator)")
	referer := flag.String("referer", "", "Referer header, as the modem wants")
	poll := flag.Duration("poll", 5*time.Second, "tick")
	n := flag.Int("n", 100, "stop after this many GETs")
	closeConn := flag.Bool("close", false, "a new connection per GET, as smsgate does")
	flag.Parse()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: *closeConn}}
	t := time.NewTicker(*poll)
	defer t.Stop()
	for i := 0; i < *n; i++ {
		req, err := http.NewRequest(http.MethodGet, *url, nil)
		if err != nil {
			log.Fatal(err)
		}
		req.Header.Set("Referer", *referer)
		if resp, err := client.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		<-t.C
	}
}
