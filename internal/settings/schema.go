package settings

import "slices"

// The settings objects as a Site Admin sees them: one descriptor each,
// declared beside the object's type, registered in Objects. The console
// renders its forms from Objects (served at GET /api/settingsschema), the
// route table serves them, the CLI takes its short names from them, the audit
// history's filter its names, and tests check the wire structs, the
// OpenAPI document and each object's Validate against it field by field,
// so nothing here can drift from what the server does.

// Object describes one settings object.
type Object struct {
	Name      string  `json:"name"`  // the path segment: /api/businesses/{BusinessID}/{Name}
	Alias     string  `json:"alias"` // the CLI's short name: bizsec settings get {Alias}
	Title     string  `json:"title"`
	Intro     string  `json:"intro"`
	Extension bool    `json:"extension"` // bizsec's own, not the platform's
	Groups    []Group `json:"groups"`
	Order     int     `json:"-"` // place in Objects: the console's tab order
}

// Group is a titled set of an object's fields, as the console shows them.
type Group struct {
	Title  string  `json:"title"`
	Fields []Field `json:"fields"`
}

// Field is one setting: its wire name, words for people, and its control.
type Field struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	// Kind is the control: feature (on/off over com.soa.feature.*), bool,
	// number (with Unit, Min, Max), choice (Options), domain (the cookie
	// domain), text, secret (write-only), specials (a list of special
	// characters, absent meaning any); in a question, textarea and count
	// (a bound from Min to Max, absent meaning none).
	Kind      string      `json:"kind"`
	Unit      string      `json:"unit,omitempty"`
	Min       *int        `json:"min,omitempty"`
	Max       *int        `json:"max,omitempty"`
	Options   [][2]string `json:"options,omitempty"` // value, label
	Optional  bool        `json:"optional,omitempty"`
	Help      string      `json:"help"`
	Extension bool        `json:"extension,omitempty"` // bizsec's own field in a platform object
	// NoEffect marks a setting kept for the platform's clients that
	// governs nothing in bizsec (the part of the platform it belongs to is
	// not here).
	NoEffect bool `json:"noEffect,omitempty"`
}

func bounds(lo, hi int) (*int, *int) { return &lo, &hi }

func number(name, label, unit string, lo, hi int, help string) Field {
	min, max := bounds(lo, hi)
	return Field{Name: name, Label: label, Kind: "number", Unit: unit, Min: min, Max: max, Help: help}
}

// Kind is one settings object: its descriptor, its Go type T with T's
// defaults and rules, and what the store must know of it. Each is declared
// beside its type and registered there, so an object is one file here.
type Kind[T any] struct {
	*Object
	// Default is the object before any write; it also fills the fields a
	// stored document lacks.
	Default func() T
	// Validate checks the object alone.
	Validate func(T) error
	// Check applies the rules that need more than the object (nil: none):
	// where the change comes from, and the business's text rules. before is
	// the object as stored, so that what did not change is not checked again.
	Check func(v, before T, o Origin) error
	// Secrets returns v's fields kept sealed at rest and masked in the audit
	// history (nil: none).
	Secrets func(v *T) []*string
	// Other names the object Rule reads, and Rule applies a rule that spans
	// both (nil: none). The store runs it under the business's settings
	// lock on the other's stored value (read fills a value that starts as
	// that object's defaults), so two writes to different objects cannot
	// each pass and together break it.
	Other string
	Rule  func(v T, read func(into any) error) error
}

// Origin is where a change to settings comes from: the host the Site Admin
// reached, whether cookies are Secure there, and the business's security
// settings, whose text rules apply to the text Site Admins write.
type Origin struct {
	Host     string
	Secure   bool
	Security Security
}

// Objects are the settings objects a Site Admin sets, in the console's
// order (Object.Order). Bounds are those Validate enforces (a test checks
// them).
var Objects []*Object

// samples and validators give each registered object's defaults (a *T)
// and its Validate over them, for the tests that check descriptors
// against the types.
var (
	samples    = map[string]func() any{}
	validators = map[string]func(any) error{}
)

// register adds k's descriptor to Objects in its order.
func register[T any](k Kind[T]) Kind[T] {
	samples[k.Name] = func() any { v := k.Default(); return &v }
	validators[k.Name] = func(v any) error { return k.Validate(*v.(*T)) }
	i := len(Objects)
	for i > 0 && Objects[i-1].Order > k.Order {
		i--
	}
	Objects = slices.Insert(Objects, i, k.Object)
	return k
}

// ObjectNamed returns the descriptor of a settings object by name or CLI alias.
func ObjectNamed(name string) (Object, bool) {
	for _, o := range Objects {
		if o.Name == name || o.Alias == name {
			return *o, true
		}
	}
	return Object{}, false
}
