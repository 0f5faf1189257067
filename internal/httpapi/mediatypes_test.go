package httpapi_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/store"
)

func versions(vs ...string) []string {
	out := []string{"application/json", "application/xml"}
	for _, v := range vs {
		out = append(out, "application/vnd.soa."+v+"+json", "application/vnd.soa."+v+"+xml")
	}
	return out
}

// bodies holds one valid body per resource, in JSON and in XML.
var bodies = map[string][2]string{
	"twofasettings": {`{"MaxAttempts":"5"}`, `<TwoFASettings><MaxAttempts>5</MaxAttempts></TwoFASettings>`},
	"loginpolicy":   {`{"AttemptsPeriod":9}`, `<LoginPolicy><AttemptsPeriod>9</AttemptsPeriod></LoginPolicy>`},
	"securitysettings": {`{"AuthTokenCookieSameSite":"Strict"}`,
		`<BusinessSecuritySettings><AuthTokenCookieSameSite>Strict</AuthTokenCookieSameSite></BusinessSecuritySettings>`},
	"challenges": {
		`{"Challenge":[{"ChallengeCode":"a","ChallengeQuestion":"A?"},{"ChallengeCode":"b","ChallengeQuestion":"B?"},{"ChallengeCode":"c","ChallengeQuestion":"C?"}]}`,
		`<Challenges><Challenge><ChallengeCode>a</ChallengeCode><ChallengeQuestion>A?</ChallengeQuestion></Challenge>` +
			`<Challenge><ChallengeCode>b</ChallengeCode><ChallengeQuestion>B?</ChallengeQuestion></Challenge>` +
			`<Challenge><ChallengeCode>c</ChallengeCode><ChallengeQuestion>C?</ChallengeQuestion></Challenge></Challenges>`},
}

// TestMediaTypes sends every media type each page lists, as Accept on GET
// and as Content-Type and Accept on PUT, and checks the echoed type and
// that the body parses in that format.
func TestMediaTypes(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	all := versions("v71", "v72", "v80", "v81")
	lists := map[string]struct{ get, put []string }{
		"twofasettings":    {versions("v72", "v80", "v81"), versions("v72", "v80", "v81")},
		"loginpolicy":      {all, all},
		"securitysettings": {all, all},
		"challenges":       {append(all, "application/vnd.soa.v84+xml"), all},
	}
	for resource, l := range lists {
		path := "/api/businesses/" + business + "/" + resource
		check := func(what, mt string, r reply) {
			t.Helper()
			if r.status != http.StatusOK {
				t.Errorf("%s %s %s: status %d: %s", what, resource, mt, r.status, r.body)
				return
			}
			if got := r.header.Get("Content-Type"); got != mt {
				t.Errorf("%s %s %s: Content-Type %q", what, resource, mt, got)
			}
			var v any
			var err error
			if strings.HasSuffix(mt, "xml") {
				err = xml.Unmarshal(r.body, new(struct{}))
			} else {
				err = json.Unmarshal(r.body, &v)
			}
			if err != nil {
				t.Errorf("%s %s %s: body does not parse: %v: %s", what, resource, mt, err, r.body)
			}
		}
		for _, mt := range l.get {
			check("GET", mt, e.do(call{method: "GET", path: path, as: admin, header: map[string]string{"Accept": mt}}))
		}
		for _, mt := range l.put {
			body := bodies[resource][0]
			if strings.HasSuffix(mt, "xml") {
				body = bodies[resource][1]
			}
			check("PUT", mt, e.do(call{method: "PUT", path: path, body: body, as: admin,
				header: map[string]string{"Accept": mt, "Content-Type": mt}}))
		}
	}
}

// TestAcceptNegotiation covers lists, quality values and wildcards.
func TestAcceptNegotiation(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	cases := []struct{ accept, want string }{
		{"", "application/json"},
		{"*/*", "application/json"},
		{"application/*", "application/json"},
		{"text/html, application/xml;q=0.9, */*;q=0.1", "application/xml"},
		{"application/vnd.soa.v80+json;q=0.5, application/vnd.soa.v81+xml", "application/vnd.soa.v81+xml"},
		{"application/json;q=0, application/xml", "application/xml"},
	}
	for _, c := range cases {
		r := e.do(call{method: "GET", path: "/api/businesses/" + business + "/loginpolicy", as: admin,
			header: map[string]string{"Accept": c.accept}})
		if r.status != http.StatusOK || r.header.Get("Content-Type") != c.want {
			t.Errorf("Accept %q: %d %q, want 200 %q", c.accept, r.status, r.header.Get("Content-Type"), c.want)
		}
	}
}

// TestXMLRoundTrip writes each object as XML (with a namespace, which is
// accepted), reads it back as XML and as JSON, and writes the XML it got
// back again to show that it is accepted unchanged.
func TestXMLRoundTrip(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	xmlH := map[string]string{"Content-Type": "application/xml", "Accept": "application/xml"}
	cases := []struct{ resource, in, wantXML, wantJSON string }{
		{"twofasettings",
			`<TwoFASettings xmlns="http://soa.com/xsd/business/1.0"><TwoFAEnabled>true</TwoFAEnabled><CodeValidSeconds>120</CodeValidSeconds>` +
				`<RecurrenceMode>twofa.once.each.interval</RecurrenceMode><RecurrenceIntervalMinutes>60</RecurrenceIntervalMinutes></TwoFASettings>`,
			`<TwoFASettings><TwoFAEnabled>true</TwoFAEnabled><CodeValidSeconds>120</CodeValidSeconds><MaxAttempts>3</MaxAttempts>` +
				`<RecurrenceMode>twofa.once.each.interval</RecurrenceMode><RecurrenceIntervalMinutes>60</RecurrenceIntervalMinutes></TwoFASettings>`,
			`{"TwoFAEnabled":true,"CodeValidSeconds":120,"MaxAttempts":3,"RecurrenceMode":"twofa.once.each.interval","RecurrenceIntervalMinutes":60}`},
		{"loginpolicy",
			`<LoginPolicy><MaxSequentialFailureAttemptsAllowed>6</MaxSequentialFailureAttemptsAllowed><PersistentSession>false</PersistentSession></LoginPolicy>`,
			`<LoginPolicy><MaxSequentialFailureAttemptsAllowed>6</MaxSequentialFailureAttemptsAllowed><AttemptsPeriod>5</AttemptsPeriod>` +
				`<SuspensionMinutes>30</SuspensionMinutes><InactiveSessionTimeout>30</InactiveSessionTimeout><ActiveSessionTimeout>30</ActiveSessionTimeout>` +
				`<PersistentSession>false</PersistentSession><ConcurrentLogin>true</ConcurrentLogin></LoginPolicy>`,
			`{"MaxSequentialFailureAttemptsAllowed":"6","AttemptsPeriod":"5","SuspensionMinutes":"30","InactiveSessionTimeout":"30","ActiveSessionTimeout":"30","PersistentSession":"false","ConcurrentLogin":"true"}`},
		{"challenges",
			`<Challenges><Challenge><ChallengeCode>a</ChallengeCode><ChallengeQuestion>A &amp; B?</ChallengeQuestion><MinimumLength>2</MinimumLength>` +
				`<Active>false</Active><AllowedSpecialCharacters><AllowedSpecialCharacter>&amp;</AllowedSpecialCharacter><AllowedSpecialCharacter>&lt;</AllowedSpecialCharacter></AllowedSpecialCharacters></Challenge>` +
				`<Challenge><ChallengeCode>b</ChallengeCode><ChallengeQuestion>B?</ChallengeQuestion></Challenge>` +
				`<Challenge><ChallengeCode>c</ChallengeCode><ChallengeQuestion>C?</ChallengeQuestion></Challenge>` +
				`<Challenge><ChallengeCode>d</ChallengeCode><ChallengeQuestion>D?</ChallengeQuestion><IsCaseSensitive>true</IsCaseSensitive></Challenge></Challenges>`,
			`<Challenges><Challenge><ChallengeCode>a</ChallengeCode><ChallengeQuestion>A &amp; B?</ChallengeQuestion><MinimumLength>2</MinimumLength>` +
				`<CanContainSpaces>true</CanContainSpaces><IsCaseSensitive>false</IsCaseSensitive><Active>false</Active>` +
				`<AllowedSpecialCharacters><AllowedSpecialCharacter>&amp;</AllowedSpecialCharacter><AllowedSpecialCharacter>&lt;</AllowedSpecialCharacter></AllowedSpecialCharacters></Challenge>` +
				`<Challenge><ChallengeCode>b</ChallengeCode><ChallengeQuestion>B?</ChallengeQuestion><CanContainSpaces>true</CanContainSpaces><IsCaseSensitive>false</IsCaseSensitive><Active>true</Active></Challenge>` +
				`<Challenge><ChallengeCode>c</ChallengeCode><ChallengeQuestion>C?</ChallengeQuestion><CanContainSpaces>true</CanContainSpaces><IsCaseSensitive>false</IsCaseSensitive><Active>true</Active></Challenge>` +
				`<Challenge><ChallengeCode>d</ChallengeCode><ChallengeQuestion>D?</ChallengeQuestion><CanContainSpaces>true</CanContainSpaces><IsCaseSensitive>true</IsCaseSensitive><Active>true</Active></Challenge></Challenges>`,
			`{"Challenge":[{"ChallengeCode":"a","ChallengeQuestion":"A & B?","MinimumLength":2,"CanContainSpaces":true,"IsCaseSensitive":false,"Active":false,"AllowedSpecialCharacters":{"AllowedSpecialCharacter":["&","<"]}},` +
				`{"ChallengeCode":"b","ChallengeQuestion":"B?","CanContainSpaces":true,"IsCaseSensitive":false,"Active":true},` +
				`{"ChallengeCode":"c","ChallengeQuestion":"C?","CanContainSpaces":true,"IsCaseSensitive":false,"Active":true},` +
				`{"ChallengeCode":"d","ChallengeQuestion":"D?","CanContainSpaces":true,"IsCaseSensitive":true,"Active":true}]}`},
	}
	const decl = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"
	path := func(r string) string { return "/api/businesses/" + business + "/" + r }
	for _, c := range cases {
		r := e.do(call{method: "PUT", path: path(c.resource), body: c.in, header: xmlH, as: admin})
		if r.status != http.StatusOK || string(r.body) != decl+c.wantXML {
			t.Fatalf("PUT %s: %d\n got %s\nwant %s", c.resource, r.status, r.body, decl+c.wantXML)
		}
		again := e.do(call{method: "PUT", path: path(c.resource), body: string(r.body), header: xmlH, as: admin})
		if again.status != http.StatusOK || string(again.body) != string(r.body) {
			t.Errorf("PUT %s of its own XML: %d %s", c.resource, again.status, again.body)
		}
		get := e.do(call{method: "GET", path: path(c.resource) + "?IncludeInactive=true", header: xmlH, as: admin})
		if string(get.body) != decl+c.wantXML {
			t.Errorf("GET %s as XML: %s", c.resource, get.body)
		}
		if got := compact(t, e.get(admin, c.resource+"?IncludeInactive=true")); got != c.wantJSON {
			t.Errorf("GET %s as JSON:\n got %s\nwant %s", c.resource, got, c.wantJSON)
		}
	}
	// Security settings: every field survives XML in and out.
	r := e.do(call{method: "PUT", path: path("securitysettings"), body: `<BusinessSecuritySettings><XssKeywords>onload,&lt;script</XssKeywords></BusinessSecuritySettings>`, header: xmlH, as: admin})
	if r.status != http.StatusOK || !strings.Contains(string(r.body), "<XssKeywords>onload,&lt;script</XssKeywords>") {
		t.Errorf("PUT securitysettings XML: %d %s", r.status, r.body)
	}
}

// TestChallengesInactive checks that GET hides inactive questions unless
// IncludeInactive=true, and that it needs no login.
func TestChallengesInactive(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	e.put(admin, "challenges", `{"Challenge":[{"ChallengeCode":"a","ChallengeQuestion":"A?"},{"ChallengeCode":"b","ChallengeQuestion":"B?"},`+
		`{"ChallengeCode":"c","ChallengeQuestion":"C?"},{"ChallengeCode":"old","ChallengeQuestion":"Old?","Active":"false"}]}`)
	codes := func(query string) string {
		r := e.do(call{method: "GET", path: "/api/businesses/" + business + "/challenges" + query})
		var got struct {
			Challenge []struct{ ChallengeCode string }
		}
		if err := json.Unmarshal(r.body, &got); r.status != http.StatusOK || err != nil {
			t.Fatalf("GET challenges%s: %d %s", query, r.status, r.body)
		}
		var cs []string
		for _, c := range got.Challenge {
			cs = append(cs, c.ChallengeCode)
		}
		return strings.Join(cs, ",")
	}
	for query, want := range map[string]string{"": "a,b,c", "?IncludeInactive=false": "a,b,c", "?IncludeInactive=true": "a,b,c,old"} {
		if got := codes(query); got != want {
			t.Errorf("GET challenges%s = %s, want %s", query, got, want)
		}
	}
}

// TestDurableAcrossRestart checks that what a PUT acknowledged is there
// after the server and its database are closed and opened again.
func TestDurableAcrossRestart(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	want := map[string]string{}
	for resource, b := range bodies {
		want[resource] = compact(t, e.put(admin, resource, b[0]))
	}
	e.restart()
	admin = e.login("admin@acme.example")
	for resource, w := range want {
		if got := compact(t, e.get(admin, resource)); got != w {
			t.Errorf("%s after restart:\n got %s\nwant %s", resource, got, w)
		}
	}
}

// TestConcurrentPartialUpdates sends partial PUTs of different fields at
// once; none may be lost, because each merge happens in one transaction.
func TestConcurrentPartialUpdates(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	fields := []string{"ReadRequestCSRFSupport", "AllowUserEnum", "EncryptChallengeAnswers", "UserModifyEmail",
		"SiteAdminModifyEmail", "ExternalDocSupport", "WhiteListKeywordsSupport", "AllowedFileTypesStrictPolicy"}
	var wg sync.WaitGroup
	for _, f := range fields {
		wg.Add(1)
		go func() {
			defer wg.Done()
			value := "com.soa.feature.enabled"
			if f != "ReadRequestCSRFSupport" && f != "WhiteListKeywordsSupport" {
				value = "com.soa.feature.disabled"
			}
			r := e.do(call{method: "PUT", path: "/api/businesses/" + business + "/securitysettings", as: admin,
				body: fmt.Sprintf(`{%q:%q}`, f, value)})
			if r.status != http.StatusOK {
				t.Errorf("PUT %s: %d %s", f, r.status, r.body)
			}
		}()
	}
	wg.Wait()
	sec, _, err := store.Get(context.Background(), e.store, settings.SecurityKind, store.RootBusinessID(tenant))
	if err != nil {
		t.Fatal(err)
	}
	if sec.ReadRequestCSRFSupport != "com.soa.feature.enabled" || sec.WhiteListKeywordsSupport != "com.soa.feature.enabled" ||
		sec.AllowUserEnum != "com.soa.feature.disabled" || sec.AllowedFileTypesStrictPolicy != "com.soa.feature.disabled" ||
		sec.EncryptChallengeAnswers != "com.soa.feature.disabled" || sec.ExternalDocSupport != "com.soa.feature.disabled" {
		t.Errorf("a concurrent update was lost: %+v", sec)
	}
}

// TestDocTypoPaths checks the two misprinted paths of the platform's pages.
func TestDocTypoPaths(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	r := e.do(call{method: "PUT", path: "/api/businesses/businesses/" + business + "/twofasettings", body: `{"MaxAttempts":"4"}`, as: admin})
	if r.status != 200 || !strings.Contains(string(e.get(admin, "twofasettings")), `"MaxAttempts":4`) {
		t.Errorf("PUT via /api/businesses/businesses/: %d %s", r.status, r.body)
	}
	if r := e.do(call{method: "GET", path: "/api/api/businesses/" + business + "/challenges"}); r.status != 200 {
		t.Errorf("GET via /api/api/: %d %s", r.status, r.body)
	}
}
