//go:build !nosim

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"syscall"
)

// hilinkReplay answers like the HiLink device of a capture: each request
// gets the next recorded answer to the same method and path (the last one
// again once they are used up). It checks nothing the client sends; what
// the capture redacted and a client needs back (the session, the tokens,
// the SCRAM nonce, the senders and texts) is made up afresh.
type hilinkReplay struct {
	URL string
	srv *http.Server

	mu sync.Mutex
	// answers are the recorded exchanges by phase (before or after the
	// capture's login was accepted), method and path.
	answers map[string][]Exchange
	next    map[string]int
	// sessions are the session cookies the replay handed out with an
	// accepted login: their requests get the answers of the logged-in
	// phase.
	sessions map[string]bool
	made     int // senders and texts made up so far
	// needsLogin: the capture's device accepted a login, so what it only
	// answered after one it refuses without (100003, no rights).
	needsLogin bool
}

// replayLoginPaths are the HiLink logins (§3): an answer that is a
// <response> opens the logged-in phase.
var replayLoginPaths = map[string]bool{"/api/user/login": true, "/api/user/authentication_login": true}

func replayAccepted(e Exchange) bool {
	return e.Method == "POST" && replayLoginPaths[e.Path] && strings.Contains(e.Text, "<response>")
}

func replayKey(in bool, method, path string) string {
	return fmt.Sprintf("%t %s %s", in, method, path)
}

// replayHiLinkFamily is the family name a HiLink capture's detected block
// holds.
const replayHiLinkFamily = "hilink"

// isHiLinkCapture tells a capture of a HiLink device: the client said so,
// or the API answered XML and nothing answered JSON.
func isHiLinkCapture(c *Capture) bool {
	if c.Detected["family"] != "" {
		return c.Detected["family"] == replayHiLinkFamily
	}
	xml := false
	for _, e := range c.Exchanges {
		switch {
		case e.Kind == "xml" && strings.HasPrefix(e.Path, "/api/"):
			xml = true
		case strings.HasPrefix(e.Kind, "json"):
			return false
		}
	}
	return xml
}

func newHiLinkReplay(c *Capture) *hilinkReplay {
	r := &hilinkReplay{answers: map[string][]Exchange{}, next: map[string]int{}, sessions: map[string]bool{}}
	in := false
	for _, e := range c.Exchanges {
		k := replayKey(in, e.Method, e.Path)
		r.answers[k] = append(r.answers[k], e)
		in = in || replayAccepted(e)
	}
	r.needsLogin = in
	return r
}

// Start serves on addr (loopback).
func (r *hilinkReplay) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	r.URL = "http://" + ln.Addr().String()
	r.srv = &http.Server{Handler: r}
	go r.srv.Serve(ln)
	return nil
}

func (r *hilinkReplay) Close() error { return r.srv.Close() }

// pick is the recorded exchange that answers method and path in a
// session logged in or not, if any: one of the same phase first.
func (r *hilinkReplay) pick(in bool, method, path string) (Exchange, bool) {
	k := replayKey(in, method, path)
	list := r.answers[k]
	if len(list) == 0 {
		k = replayKey(!in, method, path)
		list = r.answers[k]
		if len(list) > 0 && !in && r.needsLogin {
			return Exchange{Method: method, Path: path, Status: 200, Kind: "xml",
				Header: map[string]string{"Content-Type": "text/html; charset=UTF-8"},
				Text:   `<?xml version="1.0" encoding="UTF-8"?>` + "\n<error>\n<code>100003</code>\n<message></message>\n</error>"}, true
		}
	}
	if len(list) == 0 {
		return Exchange{}, false
	}
	i := min(r.next[k], len(list)-1)
	r.next[k] = i + 1
	return list[i], true
}

func (r *hilinkReplay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	sent, _ := io.ReadAll(io.LimitReader(req.Body, 64<<10))
	sid := ""
	if c, err := req.Cookie("SessionID"); err == nil {
		sid = c.Value
	}
	r.mu.Lock()
	e, ok := r.pick(r.sessions[sid], req.Method, req.URL.Path)
	body, cookies := "", ""
	if ok {
		body = r.fill(e.Text, string(sent))
		cookies = r.cookies(e, sid)
	}
	r.mu.Unlock()
	if !ok {
		// Not in the capture: what the devices answer for an API they
		// lack (100002, "not supported").
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n<error>\n<code>100002</code>\n<message></message>\n</error>")
		return
	}
	if e.Kind == "error" || e.Kind == "cut" {
		// The device did not answer (whole): neither does the replay.
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
	}
	for name, v := range e.Header {
		switch {
		case name == "Content-Type":
			w.Header().Set(name, v)
		case name == "Set-Cookie":
			for _, c := range strings.Split(cookies, ",") {
				w.Header().Add(name, c+"; path=/; HttpOnly")
			}
		case strings.HasPrefix(name, "__RequestVerificationToken"):
			toks := make([]string, strings.Count(v, "#")+1)
			for i := range toks {
				toks[i] = replayRandom(32)
			}
			w.Header().Set(name, strings.Join(toks, "#"))
		}
	}
	if e.Status != 0 {
		w.WriteHeader(e.Status)
	}
	io.WriteString(w, body)
}

// cookies are the cookies (name=value, comma-separated) to set for the
// recorded answer e, made up afresh; an accepted login makes its session
// (the new one, else the one sent) a logged-in one.
func (r *hilinkReplay) cookies(e Exchange, sent string) string {
	var out []string
	session := sent
	for _, name := range strings.Split(e.Header["Set-Cookie"], ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		v := replayRandom(64)
		if name == "SessionID" {
			session = v
		}
		out = append(out, name+"="+v)
	}
	if replayAccepted(e) && session != "" {
		r.sessions[session] = true
	}
	return strings.Join(out, ",")
}

// replayRedactedElement is an element whose value the capture redacted.
var replayRedactedElement = regexp.MustCompile(`<([A-Za-z0-9_.:-]+)>redacted</([A-Za-z0-9_.:-]+)>`)

// fill makes up what a client needs back in place of a redacted value;
// sent is the request's body.
func (r *hilinkReplay) fill(text, sent string) string {
	return replayRedactedElement.ReplaceAllStringFunc(text, func(m string) string {
		sub := replayRedactedElement.FindStringSubmatch(m)
		name := sub[1]
		if sub[2] != name {
			return m
		}
		v := ""
		switch strings.ToLower(name) {
		case "sesinfo":
			v = "SessionID=" + replayRandom(64)
		case "tokinfo":
			v = replayRandom(32)
		case "token":
			v = replayRandom(64)
		case "servernonce":
			// The SCRAM challenge extends the client's nonce (§3.3).
			v = replayElement(sent, "firstnonce") + replayRandom(32)
		case "salt", "serversignature":
			v = replayRandom(64)
		case "phone":
			r.made++
			v = fmt.Sprintf("+1555010%04d", r.made)
		case "content":
			v = fmt.Sprintf("replayed message %d", r.made)
		default:
			return m
		}
		return "<" + name + ">" + v + "</" + name + ">"
	})
}

// replayElement is the text of the first element name in an XML body.
func replayElement(body, name string) string {
	_, rest, ok := strings.Cut(body, "<"+name+">")
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, "</"+name+">")
	return v
}

func replayRandom(n int) string {
	b := make([]byte, n/2+1)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// serveHiLinkReplay serves the capture in path when it is a HiLink
// device's, until SIGTERM or SIGINT; handled is false for a capture of
// another family (or one that does not read: the ZTE replay says why).
func serveHiLinkReplay(path, listen string, stdout io.Writer) (handled bool, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, nil
	}
	c, err := ReadCapture(b)
	if err != nil || !isHiLinkCapture(c) {
		return false, nil
	}
	r := newHiLinkReplay(c)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := r.Start(listen); err != nil {
		return true, err
	}
	defer r.Close()
	fmt.Fprintf(stdout, "replay: Huawei HiLink %s, %d recorded exchanges answered by method and path in order\n",
		c.Detected["model"], len(c.Exchanges))
	fmt.Fprintf(stdout, "simulated replay of %s serving on %s\n", path, r.URL)
	<-ctx.Done()
	return true, nil
}
