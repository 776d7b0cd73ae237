package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// rawServer answers each request with what answer returns, written as is:
// the tests below need answers that net/http's server never writes. An
// answer of "" closes the connection without a word.
type rawServer struct {
	ln     net.Listener
	mu     sync.Mutex
	conns  int
	seen   []string // "conn N: METHOD PATH", in order
	bodies []string
	header []http.Header
}

func startRawServer(t *testing.T, answer func(conn, n int, req *http.Request) string) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startRawServerOn(t, ln, answer)
}

// startRawServerPiped is startRawServer on an in-memory network, for a
// test in a synctest bubble: the server's delays and the client's
// deadlines run on the bubble's clock.
func startRawServerPiped(t *testing.T, answer func(conn, n int, req *http.Request) string) *rawServer {
	return startRawServerOn(t, newPipeListener(), answer)
}

func startRawServerOn(t *testing.T, ln net.Listener, answer func(conn, n int, req *http.Request) string) *rawServer {
	s := &rawServer{ln: ln}
	var open []net.Conn // closed at the end, so that no server goroutine outlives a bubble
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range open {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns++
			id := s.conns
			open = append(open, c)
			s.mu.Unlock()
			go func(c net.Conn) {
				defer c.Close()
				r := bufio.NewReader(c)
				for n := 0; ; n++ {
					req, err := http.ReadRequest(r)
					if err != nil {
						return
					}
					b, _ := io.ReadAll(req.Body)
					s.mu.Lock()
					s.seen = append(s.seen, fmt.Sprintf("conn %d: %s %s", id, req.Method, req.URL.Path))
					s.bodies = append(s.bodies, string(b))
					s.header = append(s.header, req.Header)
					s.mu.Unlock()
					a := answer(id, n, req)
					if a == "" {
						return
					}
					if _, err := io.WriteString(c, a); err != nil {
						return
					}
				}
			}(c)
		}
	}()
	return s
}

func (s *rawServer) client(t *testing.T) *webClient {
	t.Helper()
	u, err := url.Parse("http://" + s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	w := newWebClient(u)
	if pl, ok := s.ln.(*pipeListener); ok {
		w.dial = pl.dial
	}
	return w
}

func (s *rawServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

func ok200(body string) string {
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

func get(path string) *webRequest { return &webRequest{Method: "GET", Path: path} }
func post(path string) *webRequest {
	return &webRequest{Method: "POST", Path: path, Form: url.Values{"goformId": {"X"}}}
}

func timeoutCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Answers as weak embedded web servers write them: each must come out as
// the same body, or as a clear error, never as a hang.
func TestReadAnswerForms(t *testing.T) {
	const body = `{"result":"success"}`
	for _, tc := range []struct {
		name, raw string
		wantBody  string
		wantKeep  bool
		wantErr   string // in the error, or in BodyErr
		status    int
	}{
		{"content-length", ok200(body), body, true, "", 200},
		{"http/1.0, closed after", "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n" + body, body, false, "", 200},
		{"http/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 20\r\n\r\n" + body, body, true, "", 200},
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 20\r\n\r\n" + body, body, false, "", 200},
		{"no length, closed", "HTTP/1.1 200 OK\r\n\r\n" + body, body, false, "", 200},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"res\r\nf;ext=1\r\nult\":\"success\"}\r\n0\r\nX-Trailer: 1\r\n\r\n", body, true, "", 200},
		{"chunked wins over a length", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n" + body + "\r\n0\r\n\r\n", body, true, "", 200},
		{"bare LF line ends", "HTTP/1.1 200 OK\nContent-Length: 20\n\n" + body, body, true, "", 200},
		{"100 continue first", "HTTP/1.1 100 Continue\r\n\r\n" + ok200(body), body, true, "", 200},
		{"folded header", "HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 20\r\n\r\n" + body, body, true, "", 200},
		{"stray header line", "HTTP/1.1 200 OK\r\nnonsense\r\nContent-Length: 20\r\n\r\n" + body, body, true, "", 200},
		{"redirect", "HTTP/1.1 302 Found\r\nLocation: /index.html\r\nContent-Length: 0\r\n\r\n", "", true, "", 302},
		{"204", "HTTP/1.1 204 No Content\r\n\r\n", "", true, "", 204},
		{"cut in the body", "HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n" + body, body, false, "cut at 20 of 40", 200},
		{"cut in a chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" + body, body, false, "cut in a chunk", 200},
		{"chunk without CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY0\r\n\r\n", "ab", false, "not ended", 200},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "", false, "chunk size", 200},
		{"length too large", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", "", false, "larger than", 200},
		// 2^32+1: a length kept in a 32-bit int on the arm release would
		// wrap to 1 and read one byte of a body it should refuse.
		{"length wraps in 32 bits", "HTTP/1.1 200 OK\r\nContent-Length: 4294967297\r\n\r\n{}", "", false, "larger than", 200},
		{"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", "", false, "two content-lengths", 0},
		{"negative length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "", false, "content-length", 0},
		{"gzip transfer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "", false, "transfer-encoding", 0},
		{"gzip then chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", "", false, "transfer-encoding", 0},
		{"not quite chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", "", false, "transfer-encoding", 0},
		{"signed length", "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\n{}", "", false, "content-length", 0},
		{"chunk size over 2 GiB (32-bit overflow)", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\nffffffff\r\n", "a", false, "larger than 1000", 200},
		{"chunk size that overflows the sum", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n7fffffff\r\n", "a", false, "larger than 1000", 200},
		{"long chunk size line", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" + strings.Repeat("x", 5000) + "\r\n", "", false, "chunk size line", 200},
		{"timeout after a chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na", "a", false, "unexpected EOF", 200},
		{"endless 100 Continue", strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 10) + ok200(body), "", false, "informational", 0},
		{"blank lines before the status line", "\r\n\r\n" + ok200(body), body, true, "", 200},
		{"spaces in the status line", "HTTP/1.1  200  OK\r\nContent-Length: 20\r\n\r\n" + body, body, true, "", 200},
		{"not http", "SSH-2.0-dropbear\r\n\r\n", "", false, "status line", 0},
		{"http/2 preface", "PRI * HTTP/2.0\r\n\r\n", "", false, "status line", 0},
		{"empty", "", "", false, "unexpected EOF", 0},
		{"headers cut", "HTTP/1.1 200 OK\r\nContent-Le", "", false, "unexpected EOF", 0},
		{"endless headers", "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-A: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", 2000), "", false, "headers longer", 0},
		{"endless line", "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 100000), "", false, "headers longer", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ans, keep, err := readAnswer(bufio.NewReader(strings.NewReader(tc.raw)), 1000)
			if err == nil && ans.BodyErr != nil {
				err = ans.BodyErr
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
			}
			if tc.status == 0 {
				return
			}
			if ans.Status != tc.status || string(ans.Body) != tc.wantBody || keep != tc.wantKeep {
				t.Errorf("status %d body %q keep %v, want %d %q %v", ans.Status, ans.Body, keep, tc.status, tc.wantBody, tc.wantKeep)
			}
		})
	}
}

func TestReadAnswerBoundsTheBody(t *testing.T) {
	for name, raw := range map[string]string{
		"length":    "HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n\r\n" + strings.Repeat("a", 1001),
		"chunked":   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat("64\r\n"+strings.Repeat("a", 100)+"\r\n", 11) + "0\r\n\r\n",
		"no length": "HTTP/1.0 200 OK\r\n\r\n" + strings.Repeat("a", 5000),
	} {
		ans, keep, err := readAnswer(bufio.NewReader(strings.NewReader(raw)), 1000)
		if err != nil || !errors.Is(ans.BodyErr, errAnswerTooLarge) || keep || len(ans.Body) > 1000 {
			t.Errorf("%s: err %v, body error %v, keep %v, %d bytes kept", name, err, ans.BodyErr, keep, len(ans.Body))
		}
	}
}

func FuzzReadAnswer(f *testing.F) {
	f.Add([]byte(ok200(`{"a":"b"}`)))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("HTTP/1.0 302 Found\r\nLocation: /index.html\r\nSet-Cookie: stok=1; Max-Age=0\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		const limit = 512
		ans, _, err := readAnswer(bufio.NewReader(strings.NewReader(string(raw))), limit)
		if err != nil {
			if ans != nil {
				t.Fatalf("an answer and an error: %v", err)
			}
			return
		}
		if len(ans.Body) > limit || ans.Status < 100 || ans.Status > 999 {
			t.Fatalf("status %d, %d bytes of body over a limit of %d", ans.Status, len(ans.Body), limit)
		}
		var jar cookieJar
		for _, c := range ans.SetCookies {
			jar.set(c, "/goform/goform_get_cmd_process")
		}
		if h := jar.header("/goform/goform_get_cmd_process"); headerSafe(h) != h || len(jar.cookies) > maxCookies {
			t.Fatalf("cookie header %q can end the request's header line", h)
		}
	})
}

// The connection is kept between reads, and a read on a kept connection
// that the modem has closed while idle is asked again on a new one.
func TestWebClientKeepsAndRenewsTheConnection(t *testing.T) {
	s := startRawServer(t, func(conn, n int, req *http.Request) string {
		if conn == 1 && n == 2 {
			return "" // the modem's keep-alive timer ran out as the third read came in
		}
		return ok200(`{"n":"` + req.URL.Query().Get("n") + `"}`)
	})
	w := s.client(t)
	for i := range 4 {
		req := get("/goform/goform_get_cmd_process")
		req.Query = url.Values{"n": {fmt.Sprint(i)}}
		ans, err := w.exchange(timeoutCtx(t, 2*time.Second), req)
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if want := fmt.Sprintf(`{"n":"%d"}`, i); string(ans.Body) != want {
			t.Fatalf("read %d: %s, want %s", i, ans.Body, want)
		}
	}
	want := []string{"conn 1: GET /goform/goform_get_cmd_process", "conn 1: GET /goform/goform_get_cmd_process",
		"conn 1: GET /goform/goform_get_cmd_process", "conn 2: GET /goform/goform_get_cmd_process", "conn 2: GET /goform/goform_get_cmd_process"}
	if got := s.requests(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests\n%q\nwant\n%q", got, want)
	}
}

// A connection left unused longer than idleMax is not used again. In a
// synctest bubble: the default minute, checked at it and a second past.
func TestWebClientDropsALongIdleConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := startRawServerPiped(t, func(conn, n int, req *http.Request) string { return ok200("{}") })
		w := s.client(t)
		for _, pause := range []time.Duration{0, w.idleMax, w.idleMax + time.Second} {
			time.Sleep(pause)
			if _, err := w.exchange(timeoutCtx(t, 2*time.Second), get("/a")); err != nil {
				t.Fatal(err)
			}
		}
		want := []string{"conn 1: GET /a", "conn 1: GET /a", "conn 2: GET /a"}
		if got := s.requests(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("requests %q, want %q", got, want)
		}
	})
}

// An action goes out on a connection of its own, and is never sent twice,
// whatever happens to its answer. In a synctest bubble: the slow answer
// comes after the client gave up, and Wait lets the server read whatever
// the client sent before the requests are counted.
func TestWebClientNeverSendsAnActionTwice(t *testing.T) {
	for _, cut := range []string{"nothing", "half an answer", "a slow answer"} {
		t.Run(cut, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := startRawServerPiped(t, func(conn, n int, req *http.Request) string {
					if req.Method == "GET" {
						return ok200("{}")
					}
					switch cut {
					case "half an answer":
						return "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"result\""
					case "a slow answer":
						time.Sleep(time.Second)
						return ok200(`{"result":"success"}`)
					}
					return ""
				})
				w := s.client(t)
				if _, err := w.exchange(timeoutCtx(t, 2*time.Second), get("/a")); err != nil {
					t.Fatal(err)
				}
				ans, err := w.exchange(timeoutCtx(t, 300*time.Millisecond), post("/goform/goform_set_cmd_process"))
				if err == nil && ans.BodyErr == nil {
					t.Fatalf("the action's answer was lost, yet no error: %q", ans.Body)
				}
				time.Sleep(time.Second)
				synctest.Wait()
				want := []string{"conn 1: GET /a", "conn 2: POST /goform/goform_set_cmd_process"}
				if got := s.requests(); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("requests %q, want %q", got, want)
				}
			})
		})
	}
}

// A lost answer to a read on a new connection is an error, not a second
// request: only a connection kept from before is renewed.
func TestWebClientFreshConnectionNotRetried(t *testing.T) {
	s := startRawServer(t, func(conn, n int, req *http.Request) string { return "" })
	_, err := s.client(t).exchange(timeoutCtx(t, 2*time.Second), get("/a"))
	if err == nil || !strings.Contains(err.Error(), "before the answer") {
		t.Fatalf("error %v", err)
	}
	if got := s.requests(); len(got) != 1 {
		t.Errorf("requests %q, want one", got)
	}
}

// The deadline covers the whole exchange, a modem that trickles its answer
// included, and the error says it is a timeout. In a synctest bubble, so
// the deadline is met exactly.
func TestWebClientDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ln := newPipeListener()
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
						return
					}
					io.WriteString(c, "HTTP/1.1 200 OK\r\n")
					for range 50 {
						time.Sleep(50 * time.Millisecond)
						if _, err := io.WriteString(c, "X-Slow: 1\r\n"); err != nil {
							return
						}
					}
				}()
			}
		}()
		u, _ := url.Parse(pipedURL)
		client := func() *webClient { w := newWebClient(u); w.dial = ln.dial; return w }
		start := time.Now()
		_, err := client().exchange(timeoutCtx(t, 300*time.Millisecond), get("/"))
		var nerr net.Error
		if !errors.As(err, &nerr) || !nerr.Timeout() {
			t.Fatalf("error %v, want a timeout", err)
		}
		if took := time.Since(start); took != 300*time.Millisecond {
			t.Errorf("took %v, want the 300 ms deadline", took)
		}

		// Cancelled, not timed out: the error says so.
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(200*time.Millisecond, cancel)
		_, err = client().exchange(ctx, get("/"))
		if !errors.Is(err, context.Canceled) || errors.As(err, &nerr) {
			t.Fatalf("error %v, want context.Canceled, and no timeout", err)
		}
		time.Sleep(time.Second) // the server wakes, finds the pipe closed and ends
	})
}

// A dial that fails is a *net.OpError with Op "dial": the login code reads
// it as "the modem never saw the password".
func TestWebClientDialErrorIsADialError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	u, _ := url.Parse("http://" + addr)
	_, err = newWebClient(u).exchange(timeoutCtx(t, time.Second), post("/"))
	var oerr *net.OpError
	if !errors.As(err, &oerr) || oerr.Op != "dial" {
		t.Fatalf("error %v (%T), want a dial *net.OpError", err, err)
	}
}

// What goes on the wire: the headers the firmware checks, the form as the
// body, the cookies the modem handed out and nothing a modem could inject.
func TestWebClientRequestOnTheWire(t *testing.T) {
	s := startRawServer(t, func(conn, n int, req *http.Request) string {
		if n == 0 {
			return "HTTP/1.1 200 OK\r\nSet-Cookie: stok=\"abc\"; Path=/; HttpOnly\r\nSet-Cookie: zsidn=1\r\nSet-Cookie: bad=a\rb\r\nContent-Length: 2\r\n\r\n{}"
		}
		return ok200("{}")
	})
	m, err := NewModem(ModemConfig{URL: "http://" + s.ln.Addr().String(), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := m.roundTrip(ctx, "GET", "/goform/goform_get_cmd_process", url.Values{"cmd": {"RD"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.roundTrip(ctx, "POST", "/goform/goform_set_cmd_process", url.Values{"goformId": {"LOGIN"}, "password": {"a b&c"}}); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.header[1]
	// zsidn came without a Path: its path is /goform, longer than stok's
	// "/", so it goes first (RFC 6265 5.4, as a browser orders them).
	if got, want := h.Get("Cookie"), `zsidn=1; stok="abc"`; got != want {
		t.Errorf("Cookie %q, want %q (as the modem wrote it)", got, want)
	}
	for k, want := range map[string]string{"Referer": m.base + "/index.html", "X-Requested-With": "XMLHttpRequest",
		"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"} {
		if got := h.Get(k); got != want {
			t.Errorf("%s %q, want %q", k, got, want)
		}
	}
	if f, _ := url.ParseQuery(s.bodies[1]); f.Get("password") != "a b&c" || f.Get("goformId") != "LOGIN" {
		t.Errorf("form %q", s.bodies[1])
	}
	if s.header[0].Get("Content-Type") != "" {
		t.Errorf("a read carries a Content-Type")
	}
}

func TestCookieJar(t *testing.T) {
	const api = "/goform/goform_set_cmd_process"
	var j cookieJar
	for _, step := range []struct{ set, want string }{
		{"stok=1; Path=/", "stok=1"},
		{`zsidn="2";path=/;HttpOnly`, `stok=1; zsidn="2"`},
		{"stok=3; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/", `stok=3; zsidn="2"`}, // a wrong clock does not end a session
		{"zsidn=2; Max-Age=0; Path=/", "stok=3"},
		{"stok=; Path=/", ""},
		{"=x", ""},
		{"a b=1", ""},
		{"d=1\x00", ""},
		{"d=1\r\nX: y", ""},
		{"e=1; Max-Age=-1", ""},
		{"c=1,2; Path=/", "c=1,2"},
		{"stok=TOK; path=/", "c=1,2; stok=TOK"},
		{"stok=old; Max-Age=0; path=/other", "c=1,2; stok=TOK"},  // another path's cookie (witness)
		{"stok=old; Max-Age=0; path=/goform", "c=1,2; stok=TOK"}, // inside "/", still another cookie (witness)
		{"stok=; Max-Age=0; Path=/", "c=1,2"},
		{`c=""; Path=/`, ""},
	} {
		j.set(step.set, api)
		if got := j.header(api); got != step.want {
			t.Fatalf("after %q: %q, want %q", step.set, got, step.want)
		}
	}
	for i := range 40 {
		j.set(fmt.Sprintf("c%d=1", i), api)
	}
	if len(j.cookies) != maxCookies {
		t.Errorf("%d cookies kept, want %d", len(j.cookies), maxCookies)
	}
}

// Cookies are kept by name and path and sent by RFC 6265's path-match, as
// a browser does (review: a Max-Age=0 for Path=/goform/ was dropped, so a
// dead session cookie was sent for ever; Path=/gof was sent to /goform/).
func TestCookieJarPaths(t *testing.T) {
	const api = "/goform/goform_set_cmd_process"
	for _, tc := range []struct {
		name string
		sets []string // each as answered to api
		path string   // the next request's path
		want string
	}{
		{"expiry of a /goform/ cookie", []string{"stok=1; Path=/goform/", "stok=; Max-Age=0; Path=/goform/"}, api, ""},
		{"Max-Age=0 with a value", []string{"stok=1; Path=/goform/", "stok=1; Max-Age=0; Path=/goform/"}, api, ""},
		{"no Path: the request's directory", []string{"stok=1"}, api, "stok=1"},
		{"no Path: not sent elsewhere", []string{"stok=1"}, "/js/config/config.js", ""},
		{"/gof is not /goform", []string{"stok=1; Path=/gof"}, api, ""},
		{"/goform matches below it", []string{"stok=1; Path=/goform"}, api, "stok=1"},
		{"/goform does not match /goformx", []string{"stok=1; Path=/goform"}, "/goformx/a", ""},
		{"same name, two paths: longer first", []string{"s=root; Path=/", "s=api; Path=/goform"}, api, "s=api; s=root"},
		{"expiry at / leaves /goform's", []string{"s=root; Path=/", "s=api; Path=/goform", "s=; Max-Age=0; Path=/"}, api, "s=api"},
		{"a path that is not absolute is the default", []string{"s=1; Path=goform"}, api, "s=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var j cookieJar
			for _, c := range tc.sets {
				j.set(c, api)
			}
			if got := j.header(tc.path); got != tc.want {
				t.Errorf("Cookie for %s: %q, want %q", tc.path, got, tc.want)
			}
		})
	}
}

func TestWebClientHostHeader(t *testing.T) {
	for raw, want := range map[string]string{"http://192.168.0.1": "192.168.0.1", "http://[fe80::1%25usb0]:8080": "[fe80::1]:8080",
		"http://modem.lan:80": "modem.lan:80", "http://%25/": "%", "http://a%25b/": "a%b", "http://[::1%25]": "[::1]"} {
		u, err := url.Parse(raw)
		if err != nil {
			if _, merr := NewModem(ModemConfig{URL: raw}); merr == nil {
				t.Errorf("%s: NewModem took a URL url.Parse refuses", raw)
			}
			continue
		}
		if got := newWebClient(u).host; got != want {
			t.Errorf("%s: Host %q, want %q", raw, got, want)
		}
	}
}

// Bytes the modem sends beyond an answer, or while the connection sits
// unused, are never read as the answer to the next request.
func TestWebClientUnaskedBytes(t *testing.T) {
	for name, extra := range map[string]string{
		"a CR LF after the body": "\r\n",
		"the answer twice":       ok200(`{"for":"a-again"}`),
		"a 204 with a body":      "",
	} {
		t.Run(name, func(t *testing.T) {
			s := startRawServer(t, func(conn, n int, req *http.Request) string {
				if req.URL.Path != "/a" {
					return ok200(`{"for":"` + req.URL.Path + `"}`)
				}
				if extra == "" {
					return "HTTP/1.1 204 No Content\r\n\r\nsurprise"
				}
				return ok200(`{"for":"/a"}`) + extra
			})
			w := s.client(t)
			for _, p := range []string{"/a", "/b", "/a", "/c"} {
				time.Sleep(20 * time.Millisecond) // the extra bytes are in: real TCP on purpose, they may come late
				ans, err := w.exchange(timeoutCtx(t, 2*time.Second), get(p))
				if err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				if want := `{"for":"` + p + `"}`; ans.Status == 200 && string(ans.Body) != want {
					t.Fatalf("%s: %s, want %s", p, ans.Body, want)
				}
			}
		})
	}
}

// A slow answer on a kept connection is a timeout: not asked again, not
// reported as a modem that cannot be reached. In a synctest bubble.
func TestWebClientSlowKeptConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := startRawServerPiped(t, func(conn, n int, req *http.Request) string {
			if n == 1 {
				time.Sleep(time.Minute)
			}
			return ok200("{}")
		})
		w := s.client(t)
		if _, err := w.exchange(timeoutCtx(t, 2*time.Second), get("/a")); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err := w.exchange(timeoutCtx(t, 2*time.Second), get("/b"))
		var nerr net.Error
		var oerr *net.OpError
		if !errors.As(err, &nerr) || !nerr.Timeout() || (errors.As(err, &oerr) && oerr.Op == "dial") {
			t.Fatalf("error %v, want a timeout that is not a dial error", err)
		}
		if took := time.Since(start); took != 2*time.Second {
			t.Errorf("gave up after %s, want the 2 s deadline", took)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := s.requests(); len(got) != 2 {
			t.Errorf("requests %q, want 2", got)
		}
	})
}

func TestModemURLIsPlainHTTP(t *testing.T) {
	for _, u := range []string{"https://192.168.0.1", "http://admin:x@192.168.0.1", "ftp://192.168.0.1", "192.168.0.1", "http://",
		"http://192.168.0.1/x?y", "http://192.168.0.1/goform/", "http://192.168.0.1/?a=1", "http://192.168.0.1/#top"} {
		if _, err := NewModem(ModemConfig{URL: u}); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
	for _, u := range []string{"http://192.168.0.1", "http://192.168.0.1:8080", "http://[fe80::1%25usb0]", "http://modem.lan", "http://192.168.0.1/", "http://192.168.0.1/index.html"} {
		if _, err := NewModem(ModemConfig{URL: u}); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}
