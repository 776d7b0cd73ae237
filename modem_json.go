package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// decodeJSONObject reads one JSON object. A number reads as its text,
// exactly as written: the notes say every value is a string, but the F50
// answers LOGIN with {"result":0}, and a value the client compares as a
// string must not vanish because the firmware left the quotes off.
func decodeJSONObject(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v map[string]any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	// Whole, as json.Unmarshal wants it: what follows the object is no
	// part of the answer to be guessed at.
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return numbersAsText(v).(map[string]any), nil
}

// numbersAsText turns every json.Number in v into its text, in place.
func numbersAsText(v any) any {
	switch t := v.(type) {
	case json.Number:
		return string(t)
	case map[string]any:
		for k, e := range t {
			t[k] = numbersAsText(e)
		}
	case []any:
		for i, e := range t {
			t[i] = numbersAsText(e)
		}
	}
	return v
}

// loginResultKnown says whether a LOGIN result is one the notes describe:
// "0" ok, "4" ok (already logged in), "1" fail or try later, "2" another
// user, "3" wrong password, "failure". Anything else is not the modem
// saying the password was refused.
func loginResultKnown(res string) bool {
	switch res {
	case "0", "1", "2", "3", "4", "failure":
		return true
	}
	return false
}
