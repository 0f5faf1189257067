package settings

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode"

	"github.com/bizsec/bizsec/internal/fault"
)

// CheckText applies XssKeywords and, when WhiteListKeywordsSupport is
// enabled, the WhiteListKeywords allowlist to one field of user text.
// Keywords match whole words, case-insensitively: "eval(" and "onload=" are
// refused, "evaluation" is not.
func (s Security) CheckText(field, value string) error {
	lower := strings.ToLower(value)
	for _, k := range SplitList(strings.ToLower(s.XssKeywords)) {
		if containsWord(lower, k) {
			return fault.New(fault.Invalid, "%s contains the disallowed keyword %q", field, k)
		}
	}
	if Feature(s.WhiteListKeywordsSupport) {
		for _, r := range value {
			if isSpecial(r) && !strings.ContainsRune(s.WhiteListKeywords, r) {
				return fault.New(fault.Invalid, "%s contains %q, which is not an allowed special character", field, r)
			}
		}
	}
	return nil
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
	return nil
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
