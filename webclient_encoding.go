package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strings"
)

// Some web servers gzip an answer though smsgate says Accept-Encoding:
// identity (one of the servers the goform API was tried on did). Read as
// it came, that body is "malformed JSON" and the modem gets the blame; so
// gzip is undone, and any other coding is named in the error.

// errUnknownCoding is a Content-Encoding smsgate cannot undo.
var errUnknownCoding = fmt.Errorf("%w: content-encoding", errMalformedAnswer)

// decodeBody undoes the answer's Content-Encoding in place. The bound
// applies to what the body decodes to: a few kilobytes of gzip can unpack
// to gigabytes.
func (a *webAnswer) decodeBody(limit int) {
	coding := strings.TrimSpace(a.Header["content-encoding"])
	switch strings.ToLower(coding) {
	case "", "identity":
		return
	case "gzip", "x-gzip":
	default:
		a.BodyErr = fmt.Errorf("%w %q not understood (smsgate undoes only gzip)", errUnknownCoding, clip(coding, 40))
		a.Body = nil
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(a.Body))
	if err != nil {
		a.BodyErr, a.Body = fmt.Errorf("gzip answer: %w", err), nil
		return
	}
	// One member only: a server that compresses writes one, and reading on
	// would let trailing bytes pass for more of the body.
	zr.Multistream(false)
	plain, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	switch {
	case err != nil:
		a.BodyErr, a.Body = fmt.Errorf("gzip answer: %w", err), nil
	case len(plain) > limit:
		a.BodyErr, a.Body = fmt.Errorf("gzip answer: %w", tooLarge(limit)), nil
	default:
		a.Body = plain
	}
}
