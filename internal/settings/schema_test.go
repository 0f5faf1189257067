package settings

import (
	"reflect"
	"testing"
)

// defaults are each object's defaults, as Validate sees them.
var defaults = map[string]func() any{
	"loginpolicy":      func() any { v := DefaultLoginPolicy(); return &v },
	"twofasettings":    func() any { v := DefaultTwoFA(); return &v },
	"securitysettings": func() any { v := DefaultSecurity(); return &v },
	"passwordpolicy":   func() any { v := DefaultPasswordPolicy(); return &v },
	"sessionpolicy":    func() any { v := DefaultSessionPolicy(); return &v },
	"factorpolicy":     func() any { v := DefaultFactorPolicy(); return &v },
}

// TestObjectsMatchTheTypes: every field a descriptor names is a field of
// its Go type, every choice is a value Validate takes and the defaults
// pass, and a number just outside a descriptor's bounds is one Validate
// refuses: the console can show limits before they are broken, and they
// are the server's.
func TestObjectsMatchTheTypes(t *testing.T) {
	for _, o := range Objects {
		t.Run(o.Name, func(t *testing.T) {
			mk, ok := defaults[o.Name]
			if !ok {
				t.Fatalf("no type known for %s", o.Name)
			}
			validate := func(v any) error { return v.(interface{ Validate() error }).Validate() }
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
