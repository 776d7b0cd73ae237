package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func gzipped(t testing.TB, s string) string {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// A server that gzips an answer nobody asked to be compressed: the body is
// the JSON once decoded, however it was framed; an encoding smsgate cannot
// undo is named in the error instead of being read as malformed JSON; and
// the decoded size is bounded like any body (a small gzip can unpack to
// gigabytes).
func TestReadAnswerContentEncoding(t *testing.T) {
	const body = `{"result":"success"}`
	gz := gzipped(t, body)
	bomb := gzipped(t, strings.Repeat("a", 5000))
	chunk := func(s string) string { return strconv.FormatInt(int64(len(s)), 16) + "\r\n" + s + "\r\n0\r\n\r\n" }
	for _, tc := range []struct {
		name, raw string
		wantBody  string
		wantErr   string
		wantIs    error
	}{
		{"gzip, length", "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " + strconv.Itoa(len(gz)) + "\r\n\r\n" + gz, body, "", nil},
		{"gzip, chunked", "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(gz), body, "", nil},
		{"gzip, closed", "HTTP/1.0 200 OK\r\nContent-Encoding: GZip \r\n\r\n" + gz, body, "", nil},
		{"x-gzip", "HTTP/1.0 200 OK\r\nContent-Encoding: x-gzip\r\n\r\n" + gz, body, "", nil},
		{"identity", "HTTP/1.1 200 OK\r\nContent-Encoding: identity\r\nContent-Length: 20\r\n\r\n" + body, body, "", nil},
		{"gzip bomb over the bound", "HTTP/1.0 200 OK\r\nContent-Encoding: gzip\r\n\r\n" + bomb, "", "larger than 1000", errAnswerTooLarge},
		{"gzip cut short", "HTTP/1.0 200 OK\r\nContent-Encoding: gzip\r\n\r\n" + gz[:len(gz)-6], "", "gzip", nil},
		{"not gzip at all", "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 20\r\n\r\n" + body, "", "gzip", nil},
		{"deflate named", "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: 20\r\n\r\n" + body, "", `"deflate"`, nil},
		{"br named", "HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 20\r\n\r\n" + body, "", `"br"`, nil},
		{"two codings named", "HTTP/1.1 200 OK\r\nContent-Encoding: gzip, gzip\r\nContent-Length: 20\r\n\r\n" + body, "", `"gzip, gzip"`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ans, keep, err := readAnswer(bufio.NewReader(strings.NewReader(tc.raw)), 1000)
			if err != nil {
				t.Fatalf("error %v (want the headers read, the body judged)", err)
			}
			if tc.wantErr == "" {
				if ans.BodyErr != nil || string(ans.Body) != tc.wantBody {
					t.Fatalf("body %q, error %v; want %q", ans.Body, ans.BodyErr, tc.wantBody)
				}
				return
			}
			if ans.BodyErr == nil || !strings.Contains(ans.BodyErr.Error(), tc.wantErr) {
				t.Fatalf("body error %v, want one saying %q", ans.BodyErr, tc.wantErr)
			}
			if tc.wantIs != nil && !errors.Is(ans.BodyErr, tc.wantIs) {
				t.Fatalf("body error %v is not %v", ans.BodyErr, tc.wantIs)
			}
			if keep {
				t.Errorf("connection kept after a body that could not be read")
			}
			if len(ans.Body) > 1000 {
				t.Errorf("%d bytes kept over the bound", len(ans.Body))
			}
		})
	}
}

// Through the modem client: a gzipped answer reads as JSON, another coding
// is named (not blamed on the modem's JSON), and every request says it
// wants none.
func TestModemReadsGzippedAnswers(t *testing.T) {
	s := startRawServer(t, func(conn, n int, req *http.Request) string {
		if req.URL.Query().Get("cmd") == "RD" {
			return "HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 2\r\n\r\n{}"
		}
		gz := gzipped(t, `{"loginfo":"ok"}`)
		return "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " + strconv.Itoa(len(gz)) + "\r\n\r\n" + gz
	})
	m, err := NewModem(ModemConfig{URL: "http://" + s.ln.Addr().String(), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	v, err := m.getJSON(ctx, url.Values{"cmd": {"loginfo"}})
	if err != nil || v["loginfo"] != "ok" {
		t.Fatalf("gzipped read: %v, %v", v, err)
	}
	_, err = m.getJSON(ctx, url.Values{"cmd": {"RD"}})
	if err == nil || !strings.Contains(err.Error(), `"br"`) || strings.Contains(err.Error(), "malformed JSON") {
		t.Fatalf("br answer: error %v, want the coding named, not malformed JSON", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, h := range s.header {
		if got := h.Get("Accept-Encoding"); got != "identity" {
			t.Errorf("request %d: Accept-Encoding %q, want identity", i, got)
		}
	}
}
