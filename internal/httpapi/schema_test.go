package httpapi_test

import (
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/bizsec/bizsec/internal/settings"
)

// TestDescriptorsMatchTheContract: for every settings object, the fields
// its descriptor names (what the console shows) are exactly the fields
// the OpenAPI document gives its GET answer and the fields the server
// answers; the served schema is the descriptors.
func TestDescriptorsMatchTheContract(t *testing.T) {
	raw, err := os.ReadFile("openapi/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths      map[string]map[string]json.RawMessage
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	e.put(admin, "twofasettings", `{"DeviceCookieName":"device","DeviceCookieValue":"v"}`)
	e.put(admin, "loginpolicy", `{"AutoLoginExternalDomain":"com.soa.enabled"}`)
	e.put(admin, "passwordpolicy", `{"AllowedSpecialCharacters":{"AllowedSpecialCharacter":["!"]}}`)
	e.put(admin, "securitysettings", `{"CaptchaSupport":"com.soa.feature.enabled","CaptchaSiteKey":"key","CaptchaSiteSecret":"secret"}`)
	for _, o := range settings.Objects {
		t.Run(o.Name, func(t *testing.T) {
			var described []string
			for _, g := range o.Groups {
				for _, f := range g.Fields {
					described = append(described, f.Name)
				}
			}
			sort.Strings(described)
			var get struct {
				Responses map[string]struct {
					Content map[string]struct {
						Schema struct {
							Ref string `json:"$ref"`
						}
					}
				}
			}
			if err := json.Unmarshal(doc.Paths["/api/businesses/{BusinessID}/"+o.Name]["get"], &get); err != nil {
				t.Fatalf("the document has no GET %s: %v", o.Name, err)
			}
			ref := get.Responses["200"].Content["application/json"].Schema.Ref
			var documented []string
			for name := range doc.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")].Properties {
				documented = append(documented, name)
			}
			sort.Strings(documented)
			if d := cmp.Diff(described, documented); d != "" {
				t.Errorf("descriptor vs OpenAPI %s (-described +documented):\n%s", ref, d)
			}
			var answer map[string]any
			if err := json.Unmarshal(e.get(admin, o.Name), &answer); err != nil {
				t.Fatal(err)
			}
			var answered []string
			for name := range answer {
				answered = append(answered, name)
			}
			sort.Strings(answered)
			if d := cmp.Diff(described, answered); d != "" {
				t.Errorf("descriptor vs the server's answer (-described +answered):\n%s", d)
			}
		})
	}
	var served struct {
		Object    []*settings.Object
		Challenge *settings.Object
	}
	if err := json.Unmarshal(e.do(call{method: "GET", path: "/api/settingsschema"}).body, &served); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(settings.Objects, served.Object, cmpopts.IgnoreFields(settings.Object{}, "Order")); d != "" {
		t.Errorf("served schema (-want +got):\n%s", d)
	}
	if d := cmp.Diff(settings.ChallengesKind.Object, served.Challenge); d != "" {
		t.Errorf("served question descriptor (-want +got):\n%s", d)
	}
}
