package main

// Characters beyond the BMP: the firmware's own web UIs write them as bare
// code points (U+1F44D as "1F44D"), smsgate's UTF-16 hex would write a
// surrogate pair, and nothing shows which a given firmware takes
// (zte-newer.md §3.3). Until a capture shows it, smsgate sends none:
// each becomes U+FFFD, one UTF-16 unit, so a text fitted to one SMS still
// fits.

// bmpStandIn is the character sent in place of one beyond the BMP.
const bmpStandIn = '\uFFFD'

// bmpOnly returns text with every character beyond the BMP replaced, and
// how many were.
func bmpOnly(text string) (string, int) {
	n := 0
	for _, r := range text {
		if r > 0xFFFF {
			n++
		}
	}
	if n == 0 {
		return text, 0
	}
	out := []rune(text)
	for i, r := range out {
		if r > 0xFFFF {
			out[i] = bmpStandIn
		}
	}
	return string(out), n
}

// sendable is text as smsgate sends it; the first replacement is logged,
// once per modem client.
func (m *Modem) sendable(text string) string {
	out, n := bmpOnly(text)
	if n > 0 && !m.warnedNonBMP {
		m.warnedNonBMP = true
		m.log.Warn("characters beyond the BMP (emoji) are sent as U+FFFD: which form the firmware takes is unknown; said once", "replaced", n)
	}
	return out
}
