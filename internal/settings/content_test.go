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
		{s, "&#101;val(1)", "eval"},
		{s, "x on&#108;oad=", "onload"},
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

func TestCheckPlainText(t *testing.T) {
	for _, tc := range []struct {
		value string
		ok    bool
	}{
		{"What is your favorite color?", true},
		{"Is 3 < 4 and 5 > 2?", true},
		{"a<b", false},
		{"<script>alert(1)</script>", false},
		{"<details open ontoggle=alert(1)>", false},
		{"</p>", false},
		{"<!-- x -->", false},
		{`<a href=javascript:alert(1)>x</a>`, false},
		{"java\tscript:alert(1)", false},
		{"JavaScript:alert(1)", false},
		{"vbscript:msgbox", false},
		{"report\u202Efdp.exe", false},
		{"name\u2066x\u2069", false},
		{"café résumé ☕", true},
		// Character references, which browsers decode in attributes.
		{"java&#115;cript:alert(1)", false},
		{"java&#x73;cript:alert(1)", false},
		{"javascript&colon;alert(1)", false},
		{"java&Tab;script:alert(1)", false},
		{"&lt;script&gt;alert(1)&lt;/script&gt;", false},
		{"java&amp;#115;cript:alert(1)", false}, // decoded twice
		{"report&#x202E;fdp.exe", false},
		{"Tom &amp; Jerry's first pet?", true},
		{"Is 3 &lt; 4?", true},
	} {
		t.Run(tc.value, func(t *testing.T) {
			err := CheckPlainText("ChallengeQuestion", tc.value)
			if (err == nil) != tc.ok {
				t.Errorf("got %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestCheckFileActiveContent(t *testing.T) {
	sec := DefaultSecurity()
	sec.AllowedFileTypes += ",image/svg+xml"
	png := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), make([]byte, 64)...)
	for _, tc := range []struct {
		name, claimed string
		content       string
		ok            bool
	}{
		{"plain SVG", "image/svg+xml", `<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>`, true},
		{"SVG with script", "image/svg+xml", `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`, false},
		{"SVG with an event", "image/svg+xml", `<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`, false},
		{"SVG with a script link", "image/svg+xml", `<svg xmlns="http://www.w3.org/2000/svg" xmlns:x="http://www.w3.org/1999/xlink"><a x:href="javascript:alert(1)"/></svg>`, false},
		{"XHTML as XML", "application/xml", `<html xmlns="http://www.w3.org/1999/xhtml"><body>hi</body></html>`, false},
		{"XML with a DOCTYPE", "application/xml", `<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>`, false},
		{"plain XML", "application/xml", `<definitions><message name="m"/></definitions>`, true},
		{"PNG", "image/png", string(png), true},
		{"PNG/HTML polyglot", "image/png", string(png) + "<html><script>alert(1)</script></html>", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := sec.CheckFile(tc.claimed, []byte(tc.content))
			if (err == nil) != tc.ok {
				t.Errorf("got %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
