package settings

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"html"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode"

	"github.com/bizsec/bizsec/internal/fault"
)

// CheckPlainText refuses text that is not plain: a "<" that starts markup
// (a tag, a comment, a declaration), a script URL, or a bidirectional
// control character that makes text read other than it is stored. Other
// clients of the API (a portal template) may render question text and
// file names; this holds whatever the tenant's XssKeywords say. It is
// a filter, not output encoding: renderers must still escape.
//
// The checks run on the text as sent and on it with its HTML character
// references decoded (numeric and named, decoded again while that changes
// it, as a renderer that decodes twice would), since browsers decode
// references in attributes: "java&#115;cript:" is "javascript:" there.
func CheckPlainText(field, value string) error {
	for _, v := range decodedForms(value) {
		if err := checkPlain(field, v); err != nil {
			return err
		}
	}
	return nil
}

// maxDecodes bounds how often references are decoded: each pass shortens
// the text, so a few passes reach what any renderer would.
const maxDecodes = 4

// decodedForms returns value and its successive decodings of HTML
// character references, each different from the one before.
func decodedForms(value string) []string {
	forms := []string{value}
	for range maxDecodes {
		if !strings.Contains(value, "&") {
			break
		}
		next := html.UnescapeString(value)
		if next == value {
			break
		}
		forms = append(forms, next)
		value = next
	}
	return forms
}

func checkPlain(field, value string) error {
	for i, r := range value {
		switch {
		case r == '<' && i+1 < len(value) && startsMarkup(value[i+1]):
			return fault.New(fault.Invalid, "%s must be plain text: %q starts markup", field, clipText(value[i:], 12))
		case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069', r == '\u200e', r == '\u200f', r == '\u061c':
			return fault.New(fault.Invalid, "%s must not contain bidirectional control characters (U+%04X)", field, r)
		}
	}
	if scheme := scriptURL(value); scheme != "" {
		return fault.New(fault.Invalid, "%s must not contain a %s URL", field, scheme)
	}
	return nil
}

func startsMarkup(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '/' || c == '!' || c == '?'
}

// scriptURL finds "javascript:" or "vbscript:", as browsers read them:
// case-insensitive, ignoring the whitespace and controls they skip.
func scriptURL(value string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(value) {
		if !unicode.IsSpace(r) && !unicode.IsControl(r) {
			b.WriteRune(r)
		}
	}
	for _, scheme := range []string{"javascript:", "vbscript:"} {
		if strings.Contains(b.String(), scheme) {
			return strings.TrimSuffix(scheme, ":")
		}
	}
	return ""
}

func clipText(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

// CheckText applies XssKeywords and, when WhiteListKeywordsSupport is
// enabled, the WhiteListKeywords allowlist to one field of user text.
// Keywords match whole words, case-insensitively: "eval(" and "onload=" are
// refused, "evaluation" is not.
func (s Security) CheckText(field, value string) error {
	for _, v := range decodedForms(value) {
		lower := strings.ToLower(v)
		for _, k := range SplitList(strings.ToLower(s.XssKeywords)) {
			if containsWord(lower, k) {
				return fault.New(fault.Invalid, "%s contains the disallowed keyword %q", field, k)
			}
		}
	}
	if Feature(s.WhiteListKeywordsSupport) {
		for _, r := range value {
			if isSpecial(r) && !strings.ContainsRune(s.WhiteListKeywords, r) {
				return fault.New(fault.Invalid, "%s contains %q, which is not an allowed special character", field, r)
			}
		}
	}
	return CheckPlainText(field, value)
}

func containsWord(s, word string) bool {
	alnum := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
	first, last := []rune(word)[0], []rune(word)[len([]rune(word))-1]
	for from := 0; ; {
		i := strings.Index(s[from:], word)
		if i < 0 {
			return false
		}
		i += from
		end := i + len(word)
		before := i > 0 && alnum(lastRune(s[:i]))
		after := end < len(s) && alnum([]rune(s[end:])[0])
		if !(alnum(first) && before) && !(alnum(last) && after) {
			return true
		}
		from = i + 1
	}
}

func lastRune(s string) rune { r := []rune(s); return r[len(r)-1] }

// CheckFile decides whether a file claimed to be of media type claimed may
// be uploaded: the type must be in AllowedFileTypes, and with
// AllowedFileTypesStrictPolicy enabled the content itself must be of that
// type (sniffed, and parsed for JSON and XML).
func (s Security) CheckFile(claimed string, content []byte) error {
	mt, _, err := mime.ParseMediaType(claimed)
	if err != nil {
		return fault.New(fault.Invalid, "the file's Content-Type %q is not a media type", claimed)
	}
	allowed := false
	for _, t := range SplitList(s.AllowedFileTypes) {
		allowed = allowed || strings.EqualFold(t, mt)
	}
	if !allowed {
		return fault.New(fault.Unsupported, "files of type %s are not allowed; allowed: %s", mt, s.AllowedFileTypes)
	}
	if !Feature(s.AllowedFileTypesStrictPolicy) {
		return nil
	}
	sniffed, _, _ := mime.ParseMediaType(http.DetectContentType(content))
	ok := false
	switch {
	case mt == "application/json":
		ok = sniffed == "text/plain" && json.Valid(content)
	case mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(mt, "+xml"):
		ok = (sniffed == "text/xml" || sniffed == "text/plain") && wellFormedXML(content)
	case strings.HasPrefix(mt, "text/") && mt != "text/html":
		ok = sniffed == "text/plain"
	default:
		ok = sniffed == mt
	}
	if !ok {
		return fault.New(fault.Unsupported, "the file's content (%s) is not %s", sniffed, mt)
	}
	if xmlType(mt) {
		if what := activeXML(content); what != "" {
			return fault.New(fault.Unsupported, "the file carries active content (%s), which the strict policy refuses", what)
		}
	} else if !strings.HasPrefix(mt, "text/") && mt != "application/json" {
		if what := htmlInside(content); what != "" {
			return fault.New(fault.Unsupported, "the %s file also holds HTML (%s), which the strict policy refuses", mt, what)
		}
	}
	return nil
}

func xmlType(mt string) bool {
	return mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(mt, "+xml")
}

// activeXML names what in an XML document (SVG, XHTML, any XML) a browser
// could run: a script element, an event attribute, a script URL, HTML
// elements, a DOCTYPE (entities), a stylesheet instruction; "" if none.
func activeXML(b []byte) string {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	for {
		tok, err := d.Token()
		if err != nil {
			return ""
		}
		switch t := tok.(type) {
		case xml.Directive:
			return "a DOCTYPE or declaration"
		case xml.ProcInst:
			if t.Target != "xml" {
				return "the processing instruction " + t.Target
			}
		case xml.StartElement:
			name := strings.ToLower(t.Name.Local)
			switch {
			case name == "script", name == "foreignobject", name == "iframe", name == "embed", name == "object":
				return "a <" + t.Name.Local + "> element"
			case t.Name.Space == "http://www.w3.org/1999/xhtml", name == "html":
				return "HTML elements"
			}
			for _, a := range t.Attr {
				if strings.HasPrefix(strings.ToLower(a.Name.Local), "on") {
					return "the event attribute " + a.Name.Local
				}
				if scriptURL(a.Value) != "" {
					return "a script URL in " + a.Name.Local
				}
			}
		}
	}
}

// htmlInside names HTML found inside a file of another type (a polyglot
// that a browser could be led to render as a page); "" if none.
func htmlInside(b []byte) string {
	lower := bytes.ToLower(b)
	for _, marker := range []string{"<script", "<html", "<!doctype html", "<iframe", "<svg", "<body", "javascript:"} {
		if bytes.Contains(lower, []byte(marker)) {
			return marker
		}
	}
	return ""
}

func wellFormedXML(b []byte) bool {
	d := xml.NewDecoder(bytes.NewReader(b))
	root := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return root
		}
		if err != nil {
			return false
		}
		if _, ok := tok.(xml.StartElement); ok {
			root = true
		}
	}
}
