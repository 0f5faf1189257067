package settings

import (
	"reflect"
	"testing"
)

// TestObjectsMatchTheTypes: every field a descriptor names is a field of
// its Go type, every choice is a value Validate takes and the defaults
// pass, and a number just outside a descriptor's bounds is one Validate
// refuses: the console can show limits before they are broken, and they
// are the server's.
func TestObjectsMatchTheTypes(t *testing.T) {
	for _, o := range Objects {
		t.Run(o.Name, func(t *testing.T) {
			mk, validate := samples[o.Name], validators[o.Name]
			if err := validate(mk()); err != nil {
				t.Fatalf("defaults refused: %v", err)
			}
			seen := map[string]bool{}
			for _, g := range o.Groups {
				for _, f := range g.Fields {
					if seen[f.Name] {
						t.Errorf("%s listed twice", f.Name)
					}
					seen[f.Name] = true
					v := mk()
					field := reflect.ValueOf(v).Elem().FieldByName(f.Name)
					if !field.IsValid() {
						t.Errorf("%s: no such field in the Go type", f.Name)
						continue
					}
					if f.Label == "" || f.Help == "" {
						t.Errorf("%s: a label and a line of help are required", f.Name)
					}
					switch f.Kind {
					case "number":
						if field.Kind() != reflect.Int || f.Min == nil || f.Max == nil {
							t.Errorf("%s: a number needs an int field and both bounds", f.Name)
							continue
						}
						for _, out := range []int{*f.Min - 1, *f.Max + 1} {
							v := mk()
							reflect.ValueOf(v).Elem().FieldByName(f.Name).SetInt(int64(out))
							if validate(v) == nil {
								t.Errorf("%s = %d (outside %d..%d) passes Validate", f.Name, out, *f.Min, *f.Max)
							}
						}
					case "choice":
						for _, opt := range f.Options {
							v := mk()
							reflect.ValueOf(v).Elem().FieldByName(f.Name).SetString(opt[0])
							if err := validate(v); err != nil {
								t.Errorf("%s = %q, a choice offered, is refused: %v", f.Name, opt[0], err)
							}
						}
					}
				}
			}
			// Every exported field of the type is described, so none is
			// missing from the console.
			typ := reflect.TypeOf(mk()).Elem()
			for i := range typ.NumField() {
				if name := typ.Field(i).Name; !seen[name] && !undescribed[o.Name+"."+name] {
					t.Errorf("%s is not described", name)
				}
			}
		})
	}
}

// undescribed are fields kept but not shown as settings.
var undescribed = map[string]bool{}

// TestQuestionMatchesTheType: the question descriptor names every
// exported field of Challenge and no other, each count is an optional
// bound whose limits ValidateChallenges enforces, and each choice of
// control is one the console knows.
func TestQuestionMatchesTheType(t *testing.T) {
	typ := reflect.TypeFor[Challenge]()
	seen := map[string]bool{}
	valid := func() Challenge {
		return Challenge{ChallengeCode: "pet", ChallengeQuestion: "Your first pet?", Active: true}
	}
	for _, g := range ChallengesKind.Groups {
		for _, f := range g.Fields {
			t.Run(f.Name, func(t *testing.T) {
				seen[f.Name] = true
				sf, ok := typ.FieldByName(f.Name)
				if !ok {
					t.Fatalf("no such field in Challenge")
				}
				if f.Label == "" || f.Help == "" {
					t.Errorf("a label and a line of help are required")
				}
				switch f.Kind {
				case "count":
					if sf.Type != reflect.TypeFor[*int]() || f.Min == nil || f.Max == nil || !f.Optional {
						t.Fatalf("a count needs a *int field, both bounds and Optional")
					}
					for _, n := range []int{*f.Min - 1, *f.Max + 1} {
						c := valid()
						reflect.ValueOf(&c).Elem().FieldByName(f.Name).Set(reflect.ValueOf(&n))
						if ValidateChallenges([]Challenge{c}) == nil {
							t.Errorf("%d (outside %d..%d) passes ValidateChallenges", n, *f.Min, *f.Max)
						}
					}
				case "text", "textarea":
					if sf.Type.Kind() != reflect.String {
						t.Errorf("a %s needs a string field", f.Kind)
					}
				case "bool":
					if sf.Type.Kind() != reflect.Bool {
						t.Errorf("a bool needs a bool field")
					}
				case "specials":
					if sf.Type.Kind() != reflect.Slice {
						t.Errorf("specials needs a list field")
					}
				default:
					t.Errorf("kind %q is not a question's control", f.Kind)
				}
			})
		}
	}
	for i := range typ.NumField() {
		if name := typ.Field(i).Name; !seen[name] {
			t.Errorf("Challenge.%s is not described", name)
		}
	}
}
