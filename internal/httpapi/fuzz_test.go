package httpapi

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/bizsec/bizsec/internal/fault"
)

// seedBodies adds the platform's sample bodies and some hostile ones.
func seedBodies(f *testing.F) {
	files, _ := filepath.Glob("testdata/samples/*.json")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		`{"MaxAttempts":"4"}`, `{"TwoFAEnabled":"TRUE"}`, `{"CodeValidSeconds":1e3}`, `{"MaxAttempts":"99999999999999999999"}`,
		`null`, `[]`, `{"Challenge":[{"AllowedSpecialCharacters":{"AllowedSpecialCharacter":["&"]}}]}`,
		`<TwoFASettings><MaxAttempts>4</MaxAttempts></TwoFASettings>`, `<Challenges><Challenge><Bogus/></Challenge></Challenges>`,
		`<?xml version="1.0"?><LoginPolicy xmlns="x"><PersistentSession>true</PersistentSession></LoginPolicy>`,
		"\xff\xfe", `{"a":` + string(bytes.Repeat([]byte("["), 100)),
		// shapes that could mean two things: all refused
		`{"ReadRequestCsrfSupport":"com.soa.feature.enabled"}`, `{"MaxAttempts":3,"maxattempts":7}`,
		`{"MaxAttempts":4,"MaxAttempts":5}`, "{\"DeviceCookieValue\":\"a\xffb\"}", `{"MaxAttempts":null}`,
		`{"MaxAttempts":" 4"}`, `{"MaxAttempts":"+4"}`, `{"Challenge":[{"ChallengeCode":"d\u0000"}]}`,
		`<TwoFASettings><MaxAttempts unit="x">4</MaxAttempts></TwoFASettings>`,
		`<!DOCTYPE TwoFASettings [<!ENTITY n "4">]><TwoFASettings><MaxAttempts>&n;</MaxAttempts></TwoFASettings>`,
		`<TwoFASettings><x:MaxAttempts>4</x:MaxAttempts></TwoFASettings>`,
		`<TwoFASettings xmlns:a="urn:a" xmlns:b="urn:b"><a:MaxAttempts>4</a:MaxAttempts><b:MaxAttempts>5</b:MaxAttempts></TwoFASettings>`,
		`<?xml version="1.0" encoding="ISO-8859-1"?><TwoFASettings><DeviceCookieValue>caf` + "\xe9" + `</DeviceCookieValue></TwoFASettings>`,
	} {
		f.Add([]byte(s))
	}
}

// goInternals are marks of Go's internals that no client message may carry.
var goInternals = regexp.MustCompile(`strconv|reflect|jsontext|encoding/|CharsetReader|httpapi\.|lenient(Int|Bool)|quoted(Int|Bool)`)

// decoders are the wire objects, each with a way to re-encode it.
var decoders = []func() any{
	func() any { return new(twoFAWire) },
	func() any { return new(loginPolicyWire) },
	func() any { return new(securityWire) },
	func() any { return new(challengesWire) },
	func() any { return new(userChallengesWire) },
	func() any { return new(loginRequest) },
}

// FuzzDecodeJSON: no input panics, and what decodes re-encodes to JSON
// that decodes to the same thing.
func FuzzDecodeJSON(f *testing.F) {
	seedBodies(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, mk := range decoders {
			v := mk()
			if len(bytes.TrimSpace(body)) == 0 {
				continue
			}
			if err := decodeJSON(body, v); err != nil {
				if msg := fault.MessageOf(err); goInternals.MatchString(msg) {
					t.Fatalf("message %q names Go internals", msg)
				}
				continue
			}
			out, err := jsonv2.Marshal(v) // nil lists as [], as the server answers
			if err != nil {
				t.Fatalf("%T re-encodes with error %v", v, err)
			}
			v2 := mk()
			if err := decodeJSON(out, v2); err != nil {
				t.Fatalf("%T: own output %s does not decode: %v", v, out, err)
			}
			if out2, _ := jsonv2.Marshal(v2); !bytes.Equal(out, out2) {
				t.Fatalf("%T round trip: %s then %s", v, out, out2)
			}
		}
	})
}

// FuzzDecodeXML: no input panics or loops, whatever its shape.
func FuzzDecodeXML(f *testing.F) {
	seedBodies(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, mk := range decoders {
			if err := decodeXML(body, mk()); err != nil {
				if msg := fault.MessageOf(err); goInternals.MatchString(msg) {
					t.Fatalf("message %q names Go internals", msg)
				}
			}
		}
	})
}

// FuzzNegotiate: any Accept and Content-Type header gives a listed type or
// a client error, never a panic or an unlisted type.
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"", "*/*", "application/json", "application/vnd.soa.v81+xml;q=0.5, */*;q=0.1",
		"text/html, application/xml;q=0.9", "application/json;q=abc", ";;;,,,", "application/json; charset=latin1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set("Accept", header)
		r.Header.Set("Content-Type", header)
		for _, types := range []mediaTypes{settingsTypes, twoFATypes, getChallengeTypes} {
			if mt, err := types.negotiate(r); err == nil && !types.has(mt) {
				t.Fatalf("Accept %q gave unlisted %q", header, mt)
			}
			if mt, err := types.requestType(r); err == nil && !types.has(mt) {
				t.Fatalf("Content-Type %q gave unlisted %q", header, mt)
			}
		}
	})
}
