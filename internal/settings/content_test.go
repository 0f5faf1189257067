package settings

import (
	"strings"
	"testing"
)

func TestCheckText(t *testing.T) {
	s := DefaultSecurity()
	allow := s
	allow.WhiteListKeywordsSupport = Enabled
	cases := []struct {
		s     Security
		value string
		bad   string
	}{
		{s, "What is your favourite evaluation?", ""},
		{s, "medieval download", ""},
		{s, "<img src=x onerror=alert(1)>", "onerror"},
		{s, "EVAL(document.cookie)", "eval"},
		{s, "body onLoad=", "onload"},
		{allow, "What is your mother's maiden name?", ""},
		{allow, "Name, please.", "','"},
	}
	for _, c := range cases {
		err := c.s.CheckText("ChallengeQuestion", c.value)
		if c.bad == "" && err != nil || c.bad != "" && (err == nil || !strings.Contains(err.Error(), c.bad)) {
			t.Errorf("%q: %v, want %q", c.value, err, c.bad)
		}
	}
}

func TestCheckFile(t *testing.T) {
	strict := DefaultSecurity()
	lax := strict
	lax.AllowedFileTypesStrictPolicy = Disabled
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	html := []byte("<html><script>alert(1)</script></html>")
	cases := []struct {
		s       Security
		claimed string
		content []byte
		ok      bool
	}{
		{strict, "image/png", png, true},
		{strict, "image/png", html, false},
		{strict, "image/jpeg", png, false},
		{strict, "application/json", []byte(`{"a":1}`), true},
		{strict, "application/json", []byte(`{"a":`), false},
		{strict, "application/xml", []byte(`<?xml version="1.0"?><a/>`), true},
		{strict, "application/wsdl+xml", []byte(`<definitions/>`), true},
		{strict, "text/plain", html, false},
		{strict, "text/plain; charset=utf-8", []byte("hello"), true},
		{strict, "text/html", html, false}, // not in the list
		{strict, "application/x-msdownload", []byte("MZ"), false},
		{lax, "image/png", html, true}, // lax: the claim decides
		{lax, "text/html", html, false},
	}
	for i, c := range cases {
		if err := c.s.CheckFile(c.claimed, c.content); (err == nil) != c.ok {
			t.Errorf("case %d (%s): %v, want ok=%v", i, c.claimed, err, c.ok)
		}
	}
}
