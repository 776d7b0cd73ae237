package main

import (
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// wiringFact is what a wiring section of docs/hardware.md names that its
// picture must show: pins, GPIOs, voltages, resistor values, parts.
var wiringFact = regexp.MustCompile(`GPIO\d+|pin \d+|\d+(\.\d+)? ?k?Ω|\d+(\.\d+)? V\b|\d+ mA|\d+ nm|\d+ baud|GND|2N2222|BC337|PWRKEY|RXD|TXD`)

var mdImage = regexp.MustCompile(`!\[[^\]]*\]\(([^)]+\.svg)\)`)

// TestHardwareDocPictures: every SVG in docs/img parses, every section of
// docs/hardware.md that shows one names only pins and values the picture
// shows, and every picture is shown somewhere.
func TestHardwareDocPictures(t *testing.T) {
	doc, err := os.ReadFile("docs/hardware.md")
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]bool{}
	for _, sec := range strings.Split(string(doc), "\n## ")[1:] {
		title, _, _ := strings.Cut(sec, "\n")
		img := mdImage.FindStringSubmatch(sec)
		if img == nil {
			t.Errorf("section %q has no picture", title)
			continue
		}
		shown[filepath.Base(img[1])] = true
		drawn, err := svgText(filepath.Join("docs", img[1]))
		if err != nil {
			t.Errorf("section %q: %v", title, err)
			continue
		}
		for _, fact := range wiringFact.FindAllString(sec, -1) {
			if !strings.Contains(drawn, fact) {
				t.Errorf("section %q names %q, which %s does not show", title, fact, img[1])
			}
		}
	}
	all, _ := filepath.Glob("docs/img/*.svg")
	if len(all) == 0 {
		t.Fatal("no pictures in docs/img")
	}
	for _, f := range all {
		if _, err := svgText(f); err != nil {
			t.Error(err)
		}
		if !shown[filepath.Base(f)] {
			t.Errorf("%s is shown by no section of docs/hardware.md", f)
		}
	}
}

// svgText parses an SVG and returns the text it draws, spaces between its
// text elements.
func svgText(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	d := xml.NewDecoder(f)
	var b strings.Builder
	depth, root := 0, ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", &os.PathError{Op: "parse", Path: path, Err: err}
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
			if tok.Name.Local == "text" || tok.Name.Local == "tspan" {
				depth++
			}
		case xml.EndElement:
			if tok.Name.Local == "text" || tok.Name.Local == "tspan" {
				depth--
				b.WriteByte(' ')
			}
		case xml.CharData:
			if depth > 0 {
				b.Write(tok)
			}
		}
	}
	if root != "svg" {
		return "", &os.PathError{Op: "parse", Path: path, Err: os.ErrInvalid}
	}
	return b.String(), nil
}
