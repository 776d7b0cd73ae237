package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The modem's web server speaks plain HTTP/1.x on the LAN. smsgate talks to
// it with the few lines below instead of net/http's client: that client
// brings TLS, X.509 and HTTP/2, a third of the arm binary (BENCHMARKS.md),
// for a server that has none of them.

// webRequest is one request to the modem's web server.
type webRequest struct {
	Method string // "GET" or "POST"
	Path   string
	Query  url.Values // sent in the URL
	Form   url.Values // sent as the body of a POST
	// Body is sent as the body of a POST when Form is nil: HiLink's XML,
	// ubus's JSON-RPC.
	Body   []byte
	Header [][2]string
}

// webAnswer is the modem's answer: status, the headers smsgate reads, and
// the body, bounded.
type webAnswer struct {
	Status int
	Reason string // the status line's text, "OK"
	// Header holds the last value of each header, by lower-case name.
	Header     map[string]string
	SetCookies []string
	Body       []byte
	// BodyErr is set when the headers came but the body did not, whole:
	// the connection ended early, or the body is larger than allowed.
	BodyErr error
}

func (a *webAnswer) statusText() string { return strconv.Itoa(a.Status) + " " + a.Reason }

const (
	maxHeaderBytes = 64 << 10
	maxChunkLine   = 4 << 10
)

var (
	errMalformedAnswer = errors.New("malformed HTTP answer")
	errAnswerTooLarge  = errors.New("answer larger")
)

func tooLarge(limit int) error { return fmt.Errorf("%w than %d bytes", errAnswerTooLarge, limit) }

// webClient sends one request at a time over one kept connection.
type webClient struct {
	addr string // host:port to dial
	host string // the Host header
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// idleMax is how long a connection is kept unused: one the modem
	// dropped without a word (a reboot, a power cut) would cost a read its
	// whole timeout.
	idleMax time.Duration

	mu   sync.Mutex
	idle *webConn
}

type webConn struct {
	c     net.Conn
	br    *bufio.Reader
	since time.Time // when its last answer was read
}

func newWebClient(u *url.URL) *webClient {
	port := u.Port()
	if port == "" {
		port = "80"
	}
	host := u.Hostname()
	if strings.Contains(host, ":") {
		// An IPv6 zone names an interface of this machine, not the host.
		host, _, _ = strings.Cut(host, "%")
		host = "[" + host + "]"
	}
	if u.Port() != "" {
		host += ":" + u.Port()
	}
	return &webClient{
		addr:    net.JoinHostPort(u.Hostname(), port),
		host:    host,
		idleMax: time.Minute,
		// Never through a proxy from the environment: the modem is on the
		// LAN, and its answers must come from it alone.
		dial: (&net.Dialer{}).DialContext,
	}
}

// exchange sends req and reads the answer within ctx's deadline.
//
// A GET goes over the connection kept from the last answer, as the web UI's
// browser does: a new connection per poll was most of what an idle poll
// cost. A POST is an action that may already have run when its answer is
// lost, so it is never sent twice; it gets a connection of its own, because
// a kept one that the modem closes just as the action goes out loses the
// answer.
func (w *webClient) exchange(ctx context.Context, req *webRequest) (*webAnswer, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	wire := req.encode(w.host)
	kept := w.idle
	w.idle = nil
	if kept != nil && (req.Method != "GET" || time.Since(kept.since) > w.idleMax || !kept.idleClean()) {
		kept.c.Close()
		kept = nil
	}
	if kept != nil {
		ans, keep, err := kept.roundTrip(ctx, wire)
		if err == nil || !errors.Is(err, errStaleConn) || ctx.Err() != nil || req.Method != "GET" {
			w.finish(kept, keep, err)
			return ans, unstale(err)
		}
		// The modem closed the kept connection while it was idle: nothing
		// of the answer came, and a read asks again.
		kept.c.Close()
	}
	c, err := w.dial(ctx, "tcp", w.addr)
	if err != nil {
		return nil, err
	}
	conn := &webConn{c: c, br: bufio.NewReaderSize(c, 4096)}
	ans, keep, err := conn.roundTrip(ctx, wire)
	w.finish(conn, keep, err)
	return ans, unstale(err)
}

func (w *webClient) finish(c *webConn, keep bool, err error) {
	if err == nil && keep && c.br.Buffered() == 0 {
		c.since = time.Now()
		w.idle = c
		return
	}
	c.c.Close()
}

// errStaleConn marks a failure before any byte of the answer came.
var errStaleConn = errors.New("connection closed before the answer")

type staleError struct{ err error }

func (e *staleError) Error() string   { return e.err.Error() }
func (e *staleError) Unwrap() []error { return []error{e.err, errStaleConn} }
func unstale(err error) error {
	if s, ok := err.(*staleError); ok {
		return fmt.Errorf("%w before the answer", s.err)
	}
	return err
}

func (r *webRequest) encode(host string) []byte {
	var b bytes.Buffer
	target := r.Path
	if len(r.Query) > 0 {
		target += "?" + r.Query.Encode()
	}
	var body string
	if r.Form != nil {
		body = r.Form.Encode()
	} else {
		body = string(r.Body)
	}
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: smsgate\r\nAccept-Encoding: identity\r\n", r.Method, target, host)
	for _, h := range r.Header {
		b.WriteString(h[0] + ": " + headerSafe(h[1]) + "\r\n")
	}
	if r.Method == "POST" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return b.Bytes()
}

// headerSafe keeps a value the modem handed out (a cookie) from ending the
// header line.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// roundTrip writes one request and reads its answer. keep says whether the
// connection may carry the next request.
func (c *webConn) roundTrip(ctx context.Context, wire []byte) (ans *webAnswer, keep bool, err error) {
	if d, ok := ctx.Deadline(); ok {
		c.c.SetDeadline(d)
	} else {
		c.c.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { c.c.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() {
			keep = false
		}
		if err != nil && ctx.Err() != nil {
			// The context ended the exchange: its error says why (a
			// cancel is not a timeout), the connection's only how.
			err = fmt.Errorf("%w (%v)", ctx.Err(), unstale(err))
		}
	}()
	if _, err := c.c.Write(wire); err != nil {
		return nil, false, staleUnlessTimeout(err)
	}
	if _, err := c.br.Peek(1); err != nil {
		return nil, false, staleUnlessTimeout(err)
	}
	return readAnswer(c.br, maxBody)
}

// staleUnlessTimeout: a connection that ended is stale, one that timed out
// has a slow modem at its end, which a second try would not make faster.
func staleUnlessTimeout(err error) error {
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		return err
	}
	return &staleError{err}
}

// idleClean says whether a kept connection can carry a request: the modem
// has not closed it, and sent nothing while it sat unused (an answer
// nobody asked for would be read as the next one's).
func (c *webConn) idleClean() bool {
	return c.br.Buffered() == 0 && idleQuiet(c.c)
}

// idleQuietByDeadline is idleQuiet where the socket cannot be peeked at:
// a read that may wait a millisecond.
func idleQuietByDeadline(c net.Conn) bool {
	// A deadline already past would fail the read before it is tried.
	c.SetReadDeadline(time.Now().Add(time.Millisecond))
	var b [1]byte
	_, err := c.Read(b[:])
	var nerr net.Error
	return errors.As(err, &nerr) && nerr.Timeout()
}

// readAnswer reads one HTTP/1.x answer from br, with a body of at most limit
// bytes. Informational (1xx) answers are skipped.
func readAnswer(br *bufio.Reader, limit int) (ans *webAnswer, keep bool, err error) {
	for informational := 0; ; informational++ {
		if informational == 5 {
			return nil, false, fmt.Errorf("%w: more than 4 informational answers", errMalformedAnswer)
		}
		ans, keep, err = readHead(br)
		if err != nil {
			return nil, false, err
		}
		if ans.Status >= 200 || ans.Status == 101 {
			break
		}
	}
	if ans.Status == 101 {
		return ans, false, nil
	}
	chunked := false
	if te := strings.ToLower(ans.Header["transfer-encoding"]); te != "" {
		// Only chunked: smsgate asks for no compression, so no other coding
		// is expected, and one it cannot undo would be read as the answer.
		if strings.TrimSpace(te) != "chunked" {
			return nil, false, fmt.Errorf("%w: transfer-encoding %q", errMalformedAnswer, te)
		}
		chunked = true
	}
	length := int64(-1)
	if cl, ok := ans.Header["content-length"]; ok && !chunked {
		cl = strings.TrimSpace(cl)
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil || n < 0 || strings.Trim(cl, "0123456789") != "" {
			return nil, false, fmt.Errorf("%w: content-length %q", errMalformedAnswer, cl)
		}
		length = n
	}
	switch {
	case ans.Status == 204 || ans.Status == 304:
		return ans, keep, nil
	case chunked:
		ans.Body, ans.BodyErr = readChunked(br, limit)
	case length >= 0:
		if length > int64(limit) {
			ans.BodyErr = tooLarge(limit)
			return ans, false, nil
		}
		ans.Body = make([]byte, length)
		n, err := io.ReadFull(br, ans.Body)
		ans.Body = ans.Body[:n]
		if err != nil {
			ans.BodyErr = fmt.Errorf("answer cut at %d of %d bytes: %w", n, length, err)
		}
	default:
		// No length: the body ends when the modem closes the connection.
		keep = false
		ans.Body, ans.BodyErr = readAtMost(br, limit)
	}
	if ans.BodyErr == nil {
		ans.decodeBody(limit)
	}
	if ans.BodyErr != nil {
		keep = false
	}
	return ans, keep, nil
}

func readAtMost(r io.Reader, limit int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return b, err
	}
	if len(b) > limit {
		return b[:limit], tooLarge(limit)
	}
	return b, nil
}

// readHead reads the status line and the headers.
func readHead(br *bufio.Reader) (*webAnswer, bool, error) {
	budget := maxHeaderBytes
	line, err := readLine(br, &budget)
	for blank := 0; err == nil && line == "" && blank < 4; blank++ {
		// A CR LF too many after the last body, as weak servers write.
		line, err = readLine(br, &budget)
	}
	if err != nil {
		return nil, false, headErr(err)
	}
	proto, rest, _ := strings.Cut(line, " ")
	code, reason, _ := strings.Cut(strings.TrimLeft(rest, " "), " ")
	status, cerr := strconv.Atoi(code)
	if (proto != "HTTP/1.1" && proto != "HTTP/1.0") || len(code) != 3 || cerr != nil || status < 100 {
		return nil, false, fmt.Errorf("%w: status line %q", errMalformedAnswer, clip(line, 40))
	}
	ans := &webAnswer{Status: status, Reason: strings.TrimSpace(reason), Header: map[string]string{}}
	var last string
	for {
		line, err := readLine(br, &budget)
		if err != nil {
			return nil, false, headErr(err)
		}
		if line == "" {
			break
		}
		if (line[0] == ' ' || line[0] == '\t') && last != "" {
			// An old-style continuation line.
			ans.Header[last] += " " + strings.TrimSpace(line)
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue // a weak server's stray line: nothing to read in it
		}
		last = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if last == "content-length" {
			if prev, seen := ans.Header[last]; seen && prev != value {
				return nil, false, fmt.Errorf("%w: two content-lengths", errMalformedAnswer)
			}
		}
		if last == "set-cookie" {
			ans.SetCookies = append(ans.SetCookies, value)
		}
		ans.Header[last] = value
	}
	conn := strings.ToLower(ans.Header["connection"])
	keep := !strings.Contains(conn, "close")
	if proto == "HTTP/1.0" {
		keep = strings.Contains(conn, "keep-alive")
	}
	return ans, keep, nil
}

var errLongLine = errors.New("line too long")

func headErr(err error) error {
	if errors.Is(err, errLongLine) {
		return fmt.Errorf("%w: headers longer than %d bytes", errMalformedAnswer, maxHeaderBytes)
	}
	return err
}

// readLine reads one line without its CR LF, spending budget.
func readLine(br *bufio.Reader, budget *int) (string, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		*budget -= len(frag)
		if *budget < 0 {
			return "", errLongLine
		}
		line = append(line, frag...)
		if err == nil {
			break
		}
		if err != bufio.ErrBufferFull {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", fmt.Errorf("read answer: %w", err)
		}
	}
	return string(bytes.TrimRight(line, "\r\n")), nil
}

// readChunked reads a chunked body of at most limit bytes, and its
// trailer.
func readChunked(br *bufio.Reader, limit int) ([]byte, error) {
	var body []byte
	for {
		budget := maxChunkLine
		line, err := readLine(br, &budget)
		if errors.Is(err, errLongLine) {
			return body, fmt.Errorf("%w: chunk size line longer than %d bytes", errMalformedAnswer, maxChunkLine)
		}
		if err != nil {
			return body, err
		}
		size, _, _ := strings.Cut(line, ";")
		n, err := strconv.ParseUint(strings.TrimSpace(size), 16, 32)
		if err != nil {
			return body, fmt.Errorf("%w: chunk size %q", errMalformedAnswer, clip(line, 20))
		}
		if n == 0 {
			break
		}
		if n > uint64(limit-len(body)) {
			return body, tooLarge(limit)
		}
		start := len(body)
		body = append(body, make([]byte, n)...)
		if k, err := io.ReadFull(br, body[start:]); err != nil {
			return body[:start+k], fmt.Errorf("answer cut in a chunk: %w", err)
		}
		budget = maxChunkLine
		crlf, err := readLine(br, &budget)
		if err != nil {
			return body, err
		}
		if crlf != "" {
			return body, fmt.Errorf("%w: chunk not ended by CR LF", errMalformedAnswer)
		}
	}
	budget := maxHeaderBytes
	for {
		line, err := readLine(br, &budget)
		if err != nil {
			return body, headErr(err)
		}
		if line == "" {
			return body, nil
		}
	}
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// cookieJar keeps the modem's cookies as a browser does (RFC 6265, with
// net/http/cookiejar as the model): one host, cookies keyed by name and
// path, a cookie sent only with requests under its path.
type cookieJar struct {
	cookies []jarCookie // in the order first set
}

type jarCookie struct{ name, path, value string }

// maxCookies bounds the jar: a modem that hands out cookies without end
// gets no more room.
const maxCookies = 16

// set takes one Set-Cookie value that came with an answer to reqPath.
// Expires is not read: after a cold boot without network the Pi's clock,
// the modem's or both are wrong, and a session cookie thrown away as
// expired costs a login. Max-Age=0, a negative Max-Age or an empty value
// remove the cookie of that name and path, as the modem means.
func (j *cookieJar) set(header, reqPath string) {
	pair, attrs, _ := strings.Cut(header, ";")
	name, value, ok := strings.Cut(pair, "=")
	// The value goes back exactly as it came, quotes included, as a
	// browser sends it: the firmware compares the token it wrote.
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	if !ok || name == "" || strings.ContainsAny(name, " \t,;=\"") || headerSafe(name+value) != name+value {
		return
	}
	remove := value == "" || value == `""`
	path := ""
	for _, a := range strings.Split(attrs, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(a), "=")
		v = strings.TrimSpace(v)
		switch {
		case strings.EqualFold(k, "max-age"):
			if n, err := strconv.Atoi(v); err == nil && n <= 0 {
				remove = true
			}
		case strings.EqualFold(k, "path"):
			path = v
		}
	}
	if !strings.HasPrefix(path, "/") || headerSafe(path) != path {
		path = defaultCookiePath(reqPath)
	}
	i := slices.IndexFunc(j.cookies, func(c jarCookie) bool { return c.name == name && c.path == path })
	switch {
	case remove && i >= 0:
		j.cookies = slices.Delete(j.cookies, i, i+1)
	case remove:
	case i >= 0:
		j.cookies[i].value = value
	case len(j.cookies) < maxCookies:
		j.cookies = append(j.cookies, jarCookie{name, path, value})
	}
}

// has says whether a cookie of that name is kept, for any path.
func (j *cookieJar) has(name string) bool {
	return slices.ContainsFunc(j.cookies, func(c jarCookie) bool { return c.name == name })
}

// defaultCookiePath is RFC 6265 5.1.4's default-path: the request path up
// to its last slash.
func defaultCookiePath(reqPath string) string {
	i := strings.LastIndexByte(reqPath, '/')
	if i <= 0 {
		return "/"
	}
	return reqPath[:i]
}

// pathMatch is RFC 6265 5.1.4's path-match: /goform matches /goform and
// /goform/x, not /goformx; /gof matches neither.
func pathMatch(reqPath, cookiePath string) bool {
	if !strings.HasPrefix(reqPath, cookiePath) {
		return false
	}
	return len(reqPath) == len(cookiePath) || strings.HasSuffix(cookiePath, "/") || reqPath[len(cookiePath)] == '/'
}

// header is the Cookie header's value for a request to reqPath, "" without
// cookies: longer paths first, then in the order set, as RFC 6265 5.4 says.
func (j *cookieJar) header(reqPath string) string {
	var send []jarCookie
	for _, c := range j.cookies {
		if pathMatch(reqPath, c.path) {
			send = append(send, c)
		}
	}
	slices.SortStableFunc(send, func(a, b jarCookie) int { return len(b.path) - len(a.path) })
	var b strings.Builder
	for i, c := range send {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(c.name + "=" + c.value)
	}
	return b.String()
}
