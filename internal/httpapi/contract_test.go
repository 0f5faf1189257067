package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/go-cmp/cmp"

	"github.com/bizsec/bizsec/internal/settings"
)

// loadContract loads the embedded document with its references resolved.
func loadContract(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(openAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the document is not valid OpenAPI: %v", err)
	}
	return doc
}

// routeTable is what Handler registers through the adapter, by "METHOD
// /path" as the document spells it.
func routeTable(t *testing.T) map[string]mediaTypes {
	t.Helper()
	s := &Server{metrics: newMetrics(), log: slog.New(slog.DiscardHandler), opsOnPublic: true, bodies: newBodyBudget(1)}
	s.Handler()
	out := map[string]mediaTypes{}
	for _, r := range s.served {
		method, path, ok := strings.Cut(r.pattern, " ")
		if !ok { // the 405 and 404 answers of paths: no operation
			continue
		}
		out[method+" "+path] = r.types
	}
	return out
}

// outsideTheAdapter are the operations Handler serves with plain handlers
// (no negotiation, no admission): each answers one media type.
var outsideTheAdapter = []string{"GET /api/openapi.json", "GET /healthz", "GET /readyz", "GET /metrics"}

// aliases are served but deliberately not documented: misprints in the
// platform's documentation that clients copied, answered like the paths
// they stand for.
var aliases = []string{"GET /api/api/businesses/{BusinessID}/challenges", "PUT /api/api/businesses/{BusinessID}/challenges"}

// TestDocumentIsTheRouteTable: every operation the route table serves is
// in the document and nothing else is, and each lists the media types the
// route negotiates, for its request body and its success answers, while
// no answer lists a type the route cannot produce.
func TestDocumentIsTheRouteTable(t *testing.T) {
	doc := loadContract(t)
	routes := routeTable(t)
	var served []string
	for op := range routes {
		if !slices.Contains(aliases, op) {
			served = append(served, op)
		}
	}
	served = append(served, outsideTheAdapter...)
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	sort.Strings(served)
	sort.Strings(documented)
	if d := cmp.Diff(served, documented); d != "" {
		t.Errorf("served vs documented operations (-served +documented):\n%s", d)
	}
	for op, types := range routes {
		method, path, _ := strings.Cut(op, " ")
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(method) == nil {
			continue
		}
		o := item.GetOperation(method)
		want := slices.Sorted(slices.Values(types))
		t.Run(op, func(t *testing.T) {
			if o.RequestBody != nil && !rawBody(path) {
				if d := cmp.Diff(want, keys(o.RequestBody.Value.Content)); d != "" {
					t.Errorf("request body media types (-served +documented):\n%s", d)
				}
			}
			for status, resp := range o.Responses.Map() {
				content := resp.Value.Content
				if len(content) == 0 || rawBody(path) {
					continue
				}
				got := keys(content)
				if strings.HasPrefix(status, "2") {
					if d := cmp.Diff(want, got); d != "" {
						t.Errorf("%s answer media types (-served +documented):\n%s", status, d)
					}
					continue
				}
				for _, mt := range got {
					if !types.has(mt) {
						t.Errorf("%s answer lists %s, which the route never answers", status, mt)
					}
				}
			}
		})
	}
}

// rawBody reports the routes whose bodies are not the negotiated wire
// objects: uploaded files and the QR code image.
func rawBody(path string) bool {
	return strings.Contains(path, "/files/") || strings.HasSuffix(path, "/qr.png")
}

func keys(c openapi3.Content) []string {
	var out []string
	for k := range c {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// wireAt names where in the document a wire struct is described: a
// component schema, or an operation's JSON request ("PUT /path") or
// answer ("GET /path 200"), then optionally a property path in which []
// steps into an array's items.
type wireAt struct {
	at      string
	path    string // property path, "Session[]" for Session's items
	typ     reflect.Type
	request bool // it is decoded (lenient numbers and booleans) rather than encoded
}

func wireTypes() []wireAt {
	t := reflect.TypeFor[challengesWire]
	out := []wireAt{
		{"Challenges", "", t(), false},
		{"ChallengesInput", "", t(), true},
		{"SuspendedUsers", "", reflect.TypeFor[suspendedUsersWire](), false},
		{"AuditEntries", "AuditEntry[]", reflect.TypeFor[auditEntryWire](), false},
		{"SecurityCheck", "Finding[]", reflect.TypeFor[findingWire](), false},
		{"Factors", "", reflect.TypeFor[factorsWire](), false},
		{"File", "", reflect.TypeFor[fileWire](), false},
		{"PasswordChange", "", reflect.TypeFor[passwordWire](), true},
		{"Sessions", "Session[]", reflect.TypeFor[sessionWire](), false},
		{"Users", "User[]", reflect.TypeFor[userWire](), false},
		{"UserIdentificationChallenges", "", reflect.TypeFor[userChallengesWire](), false},
		{"UserIdentificationChallenges", "", reflect.TypeFor[userChallengesWire](), true},
		{"LoginRequest", "", reflect.TypeFor[loginRequest](), true},
		{"LoginResponse", "", reflect.TypeFor[loginResponse](), false},
		{"PasswordResetRequest", "", reflect.TypeFor[resetRequest](), true},
		{"PasswordResetResponse", "", reflect.TypeFor[resetResponse](), false},
		{"PUT /api/users/{UserID}", "", reflect.TypeFor[userUpdateWire](), true},
		{"POST /api/users/{UserID}/email/confirm", "", reflect.TypeFor[emailConfirmWire](), true},
		{"POST /api/users/{UserID}/factors/{FactorID}", "", reflect.TypeFor[enrolWire](), true},
		{"POST /api/users/{UserID}/factors/{FactorID}/confirm", "", reflect.TypeFor[confirmWire](), true},
	}
	// Each settings object: its wire form W, read from the type of its
	// apply function, is both the PUT body and the GET answer.
	for _, o := range settingsObjects {
		w := reflect.ValueOf(o).FieldByName("apply").Type().In(0).Elem()
		path := "/api/businesses/{BusinessID}/" + o.name()
		out = append(out, wireAt{"GET " + path + " 200", "", w, false}, wireAt{"PUT " + path, "", w, true})
	}
	return out
}

// schemaAt finds a wireAt's schema.
func schemaAt(doc *openapi3.T, w wireAt) *openapi3.Schema {
	var s *openapi3.Schema
	if method, rest, ok := strings.Cut(w.at, " "); ok {
		path, status, _ := strings.Cut(rest, " ")
		o := doc.Paths.Find(path).GetOperation(method)
		if o == nil {
			return nil
		}
		var c openapi3.Content
		if status == "" {
			if o.RequestBody == nil {
				return nil
			}
			c = o.RequestBody.Value.Content
		} else if r := o.Responses.Value(status); r != nil {
			c = r.Value.Content
		}
		if c.Get("application/json") == nil {
			return nil
		}
		s = c.Get("application/json").Schema.Value
	} else if ref := doc.Components.Schemas[w.at]; ref != nil {
		s = ref.Value
	}
	for _, step := range strings.Split(w.path, ".") {
		if step == "" || s == nil {
			continue
		}
		name, items := strings.CutSuffix(step, "[]")
		p := s.Properties[name]
		if p == nil {
			return nil
		}
		s = p.Value
		if items {
			s = s.Items.Value
		}
	}
	return s
}

// kinds are the JSON types a schema admits, through oneOf and anyOf.
func kinds(s *openapi3.Schema) []string {
	var out []string
	if s.Type != nil {
		out = append(out, s.Type.Slice()...)
	}
	for _, alts := range []openapi3.SchemaRefs{s.OneOf, s.AnyOf} {
		for _, a := range alts {
			out = append(out, kinds(a.Value)...)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// wantKinds are the JSON types a Go wire field takes (request) or
// produces (answer); nil: any JSON.
func wantKinds(t reflect.Type, request bool) []string {
	switch t {
	case reflect.TypeFor[lenientInt]():
		if request {
			return []string{"integer", "string"}
		}
		return []string{"integer"}
	case reflect.TypeFor[quotedInt]():
		if request {
			return []string{"integer", "string"}
		}
		return []string{"string"}
	case reflect.TypeFor[lenientBool]():
		if request {
			return []string{"boolean", "string"}
		}
		return []string{"boolean"}
	case reflect.TypeFor[quotedBool]():
		if request {
			return []string{"boolean", "string"}
		}
		return []string{"string"}
	case reflect.TypeFor[json.RawMessage](), reflect.TypeFor[jsontext.Value]():
		return nil
	}
	switch t.Kind() {
	case reflect.String:
		return []string{"string"}
	case reflect.Int, reflect.Int64:
		return []string{"integer"}
	case reflect.Bool:
		return []string{"boolean"}
	case reflect.Slice:
		return []string{"array"}
	case reflect.Struct:
		return []string{"object"}
	}
	return []string{"unknown " + t.String()}
}

// compareWire checks s against the struct t field by field, recursing
// into nested structs and arrays of them.
func compareWire(t *testing.T, where string, s *openapi3.Schema, typ reflect.Type, request bool) {
	t.Helper()
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	var fields, props []string
	for name := range s.Properties {
		props = append(props, name)
	}
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields = append(fields, name)
		p := s.Properties[name]
		if p == nil {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		want := wantKinds(ft, request)
		if want == nil {
			continue
		}
		got := kinds(p.Value)
		if request && !isSubset(want, got) || !request && (len(got) == 0 || !isSubset(got, want) && !isSubset(want, got)) {
			t.Errorf("%s.%s: the document says %v, the Go field (%s) %v", where, name, got, ft, want)
			continue
		}
		switch {
		case ft.Kind() == reflect.Struct && want[0] == "object":
			compareWire(t, where+"."+name, p.Value, ft, request)
		case ft.Kind() == reflect.Slice && p.Value.Items != nil:
			et := ft.Elem()
			for et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				compareWire(t, where+"."+name+"[]", p.Value.Items.Value, et, request)
			} else if w := wantKinds(et, request); w != nil && !isSubset(w, kinds(p.Value.Items.Value)) {
				t.Errorf("%s.%s[]: the document says %v, the Go field %v", where, name, kinds(p.Value.Items.Value), w)
			}
		}
	}
	sort.Strings(fields)
	sort.Strings(props)
	if d := cmp.Diff(fields, props); d != "" {
		t.Errorf("%s: Go fields vs documented properties (-Go +documented):\n%s", where, d)
	}
}

func isSubset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// TestDocumentIsTheWireStructs: every field of each wire struct is a
// property of its schema with a matching JSON type (numbers and booleans
// in requests also as strings, as the server takes them), and no property
// is not a field.
func TestDocumentIsTheWireStructs(t *testing.T) {
	doc := loadContract(t)
	for _, w := range wireTypes() {
		where := w.at + " " + w.path
		t.Run(where, func(t *testing.T) {
			s := schemaAt(doc, w)
			if s == nil {
				t.Fatalf("the document has no schema at %s %s", w.at, w.path)
			}
			compareWire(t, w.typ.Name(), s, w.typ, w.request)
		})
	}
}

// TestDocumentBounds: each number a settings descriptor bounds has the
// same minimum and maximum wherever the document gives it as an integer,
// in the PUT body and in the GET answer.
func TestDocumentBounds(t *testing.T) {
	doc := loadContract(t)
	for _, o := range settings.Objects {
		path := "/api/businesses/{BusinessID}/" + o.Name
		for _, at := range []string{"GET " + path + " 200", "PUT " + path} {
			s := schemaAt(doc, wireAt{at: at})
			if s == nil {
				t.Errorf("the document has no schema for %s", at)
				continue
			}
			for _, g := range o.Groups {
				for _, f := range g.Fields {
					if f.Min == nil && f.Max == nil {
						continue
					}
					p := s.Properties[f.Name]
					if p == nil {
						t.Errorf("%s: no property %s", at, f.Name)
						continue
					}
					for _, alt := range integerForms(p.Value) {
						if d := cmp.Diff(bound(f.Min), bound64(alt.Min)); d != "" {
							t.Errorf("%s %s minimum (-descriptor +document):\n%s", at, f.Name, d)
						}
						if d := cmp.Diff(bound(f.Max), bound64(alt.Max)); d != "" {
							t.Errorf("%s %s maximum (-descriptor +document):\n%s", at, f.Name, d)
						}
					}
				}
			}
		}
	}
}

func integerForms(s *openapi3.Schema) []*openapi3.Schema {
	var out []*openapi3.Schema
	if s.Type.Is("integer") {
		out = append(out, s)
	}
	for _, a := range s.OneOf {
		out = append(out, integerForms(a.Value)...)
	}
	return out
}

func bound(n *int) *float64 {
	if n == nil {
		return nil
	}
	f := float64(*n)
	return &f
}

func bound64(f *float64) *float64 { return f }

// TestDocumentExamples: every JSON request and answer body has an
// example, and it is valid under its own schema.
func TestDocumentExamples(t *testing.T) {
	doc := loadContract(t)
	for path, item := range doc.Paths.Map() {
		for method, o := range item.Operations() {
			bodies := map[string]*openapi3.MediaType{}
			if o.RequestBody != nil {
				for mt, m := range o.RequestBody.Value.Content {
					bodies["request "+mt] = m
				}
			}
			for status, r := range o.Responses.Map() {
				for mt, m := range r.Value.Content {
					bodies[status+" "+mt] = m
				}
			}
			for what, m := range bodies {
				if !strings.HasSuffix(what, "json") || m.Schema == nil {
					continue
				}
				examples := []any{}
				if m.Example != nil {
					examples = append(examples, m.Example)
				}
				for _, e := range m.Examples {
					examples = append(examples, e.Value.Value)
				}
				if m.Schema.Value.Example != nil && len(examples) == 0 {
					examples = append(examples, m.Schema.Value.Example)
				}
				if len(examples) == 0 {
					t.Errorf("%s %s %s: no example", method, path, what)
				}
				for _, e := range examples {
					if err := m.Schema.Value.VisitJSON(e); err != nil {
						t.Errorf("%s %s %s: the example does not validate: %v", method, path, what, err)
					}
				}
			}
		}
	}
}
