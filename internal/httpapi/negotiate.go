package httpapi

import (
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/bizsec/bizsec/internal/fault"
)

// mediaTypes is the set of media types one operation accepts and produces.
type mediaTypes []string

func versioned(versions ...string) mediaTypes {
	m := mediaTypes{"application/json", "application/xml"}
	for _, v := range versions {
		m = append(m, "application/vnd.soa."+v+"+json", "application/vnd.soa."+v+"+xml")
	}
	return m
}

var (
	// settingsTypes are the media types of loginpolicy, securitysettings and challenges.
	settingsTypes = versioned("v71", "v72", "v80", "v81")
	// twoFATypes are those of twofasettings, which the platform added in 7.2.
	twoFATypes = versioned("v72", "v80", "v81")
	// getChallengeTypes adds the one v84 type the GET challenges page lists.
	getChallengeTypes = append(versioned("v71", "v72", "v80", "v81"), "application/vnd.soa.v84+xml")
	// jsonTypes are the JSON media types, for bodies with no XML form.
	jsonTypes = mediaTypes{"application/json", "application/vnd.soa.v71+json", "application/vnd.soa.v72+json",
		"application/vnd.soa.v80+json", "application/vnd.soa.v81+json"}
	// loginTypes are those of the login service.
	loginTypes = versioned("v71", "v72", "v80", "v81")
)

func (m mediaTypes) has(t string) bool {
	for _, x := range m {
		if x == t {
			return true
		}
	}
	return false
}

// isXML reports whether a negotiated media type carries XML.
func isXML(mediaType string) bool {
	return mediaType == "application/xml" || strings.HasSuffix(mediaType, "+xml")
}

// negotiate picks the response media type from the Accept header: the
// acceptable type with the highest q, ties going to the first listed.
// Wildcards and a missing header get application/json, the platform
// default. A type with q=0 is not acceptable (RFC 9110 12.4.2), whatever a
// wildcard in the same header says: a wildcard then stands for the first
// type served that was not refused.
func (m mediaTypes) negotiate(r *http.Request) (string, error) {
	if v := r.Header["Accept"]; len(v) == 1 && plainType(v[0]) {
		// One type, no parameters, already in the lower case ParseMediaType makes.
		switch {
		case m.has(v[0]):
			return v[0], nil
		case v[0] == "*/*" || v[0] == "application/*":
			return "application/json", nil
		}
	}
	accept := strings.Join(r.Header.Values("Accept"), ",")
	if strings.TrimSpace(accept) == "" {
		return "application/json", nil
	}
	type choice struct {
		t string
		q float64
	}
	type ranged struct {
		prefix string // "" for */*, "application/" for application/*
		q      float64
	}
	var choices []choice
	var wildcards []ranged
	refused := map[string]bool{}
	for _, part := range strings.Split(accept, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		t, params, err := mime.ParseMediaType(part)
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(s, 64); err != nil || q < 0 || q > 1 {
				continue
			}
		}
		switch {
		case q == 0 && (t == "*/*" || t == "application/*"):
			// refuses what no more specific range names; nothing to pick
		case q == 0:
			refused[t] = true
		case t == "*/*":
			wildcards = append(wildcards, ranged{"", q})
		case t == "application/*":
			wildcards = append(wildcards, ranged{"application/", q})
		case m.has(t):
			choices = append(choices, choice{t, q})
		}
	}
	for _, w := range wildcards {
		for _, t := range m {
			if !refused[t] && strings.HasPrefix(t, w.prefix) {
				choices = append(choices, choice{t, w.q})
				break
			}
		}
	}
	choices = slices.DeleteFunc(choices, func(c choice) bool { return refused[c.t] })
	sort.SliceStable(choices, func(i, j int) bool { return choices[i].q > choices[j].q })
	if len(choices) == 0 {
		return "", fault.New(notAcceptable, "none of the media types in Accept (%s) is supported; use one of %s",
			clip(accept, 200), strings.Join(m, ", "))
	}
	return choices[0].t, nil
}

// plainType reports whether s is a bare lower-case type/subtype.
func plainType(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == ',' || c == ';' || c >= 0x7f || 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return s != ""
}

// requestType returns the media type of the request body.
func (m mediaTypes) requestType(r *http.Request) (string, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return "", fault.New(unsupportedType, "Content-Type is required; use one of %s", strings.Join(m, ", "))
	}
	t, params, err := mime.ParseMediaType(ct)
	if err != nil || !m.has(t) {
		return "", fault.New(unsupportedType, "Content-Type %q is not supported; use one of %s", clip(ct, 200), strings.Join(m, ", "))
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return "", fault.New(unsupportedType, "charset %q is not supported; use UTF-8", clip(cs, 40))
	}
	return t, nil
}

// clip shortens client-supplied text before it is echoed in an error.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
