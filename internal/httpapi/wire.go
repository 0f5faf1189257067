package httpapi

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/bizsec/bizsec/internal/fault"
)

// maxBody bounds request bodies; the largest legal one, 100 challenges, is far smaller.
const maxBody = 256 << 10

// The platform's own samples send numbers and booleans both natively and
// as strings ("6", "true"), so every number and boolean accepts both.
// lenientInt and lenientBool answer natively; quotedInt and quotedBool
// answer as strings, as the LoginPolicy sample response does.
type (
	lenientInt  int
	lenientBool bool
	quotedInt   int
	quotedBool  bool
)

var (
	intType  = reflect.TypeOf(0)
	boolType = reflect.TypeOf(false)
)

func unquote(b []byte) (string, bool) {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if json.Unmarshal(b, &s) == nil {
			return s, true
		}
	}
	return string(b), false
}

// parseInt reads an integer, or a string of exactly an optional minus and
// digits: " 4" and "+4" are refused, so that one body has one meaning.
func parseInt(b []byte) (int, error) {
	s, quoted := unquote(b)
	n, err := strconv.Atoi(s)
	if err == nil && !digits(strings.TrimPrefix(s, "-")) {
		err = strconv.ErrSyntax
	}
	if err != nil || n < -1<<31 || n > 1<<31-1 {
		kind := "number " + s
		if quoted {
			kind = "string " + strconv.Quote(s)
		}
		return 0, &json.UnmarshalTypeError{Value: kind, Type: intType}
	}
	return n, nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// parseBool reads true or false, natively or as exactly "true" or "false".
func parseBool(b []byte) (bool, error) {
	s, quoted := unquote(b)
	switch s {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	kind := s
	if quoted {
		kind = "string " + strconv.Quote(s)
	}
	return false, &json.UnmarshalTypeError{Value: kind, Type: boolType}
}

func (n *lenientInt) UnmarshalJSON(b []byte) error {
	v, err := parseInt(b)
	*n = lenientInt(v)
	return err
}
func (n *lenientInt) UnmarshalText(b []byte) error {
	v, err := parseInt(b)
	*n = lenientInt(v)
	return err
}
func (n *quotedInt) UnmarshalJSON(b []byte) error {
	v, err := parseInt(b)
	*n = quotedInt(v)
	return err
}
func (n *quotedInt) UnmarshalText(b []byte) error {
	v, err := parseInt(b)
	*n = quotedInt(v)
	return err
}
func (v *lenientBool) UnmarshalJSON(b []byte) error {
	x, err := parseBool(b)
	*v = lenientBool(x)
	return err
}
func (v *lenientBool) UnmarshalText(b []byte) error {
	x, err := parseBool(b)
	*v = lenientBool(x)
	return err
}
func (v *quotedBool) UnmarshalJSON(b []byte) error {
	x, err := parseBool(b)
	*v = quotedBool(x)
	return err
}
func (v *quotedBool) UnmarshalText(b []byte) error {
	x, err := parseBool(b)
	*v = quotedBool(x)
	return err
}

func (n quotedInt) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(strconv.Itoa(int(n)))), nil
}

func (v quotedBool) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(strconv.FormatBool(bool(v)))), nil
}

// unknownElements collects XML elements no field claims, so that XML
// rejects misspelt fields just as JSON does.
type unknownElements []struct {
	XMLName xml.Name
}

func (u unknownElements) err() error {
	if len(u) == 0 {
		return nil
	}
	return fault.New(fault.Invalid, "unknown field %q", u[0].XMLName.Local)
}

// checker is a wire object that can report unknown XML elements.
type checker interface{ unknown() error }

// decodeBody reads the request body of the given media type into v,
// turning every decoding problem into a client error that names the field.
func decodeBody(w http.ResponseWriter, r *http.Request, mediaType string, v any) error {
	if err := identityEncoding(r); err != nil {
		return err
	}
	body, err := readAll(w, r, maxBody)
	var f *fault.Error
	switch {
	case errors.Is(err, errTooLarge):
		return fault.New(fault.Invalid, "the request body is larger than %d bytes", maxBody)
	case errors.As(err, &f):
		return err // no room in the body budget
	case err != nil:
		return fault.New(fault.Invalid, "the request body could not be read")
	case len(bytes.TrimSpace(body)) == 0:
		return fault.New(fault.Invalid, "the request body is empty")
	}
	if isXML(mediaType) {
		return decodeXML(body, v)
	}
	return decodeJSON(body, v)
}

// decodeJSON decodes a JSON object into v with one meaning per body: field
// names match exactly (case-sensitive), a name may appear once per object,
// the text must be UTF-8, null is refused, and unknown fields are refused.
// It uses the JSON v2 semantics (github.com/go-json-experiment/json, the
// reference implementation of encoding/json/v2), whose defaults are
// exactly these, rather than a hand-written check beside encoding/json.
func decodeJSON(body []byte, v any) error { return decodeJSONObject(body, v, true) }

// decodeJSONObject is decodeJSON, with unknown fields ignored unless
// rejectUnknown is set (the 2FA step's body has fields the platform's
// documentation does not show).
func decodeJSONObject(body []byte, v any, rejectUnknown bool) error {
	if !utf8.Valid(body) {
		return fault.New(fault.Invalid, "the request body is not valid UTF-8")
	}
	if trimmed := bytes.TrimSpace(body); trimmed[0] != '{' {
		return fault.New(fault.Invalid, "the request body must be a JSON object")
	}
	// One pass over the tokens first: syntax, duplicate names and nulls are
	// reported with their place before any field is decoded.
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.ReadToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return jsonFault(err)
		}
		if tok.Kind() == 'n' {
			return fault.New(fault.Invalid, "field %s: null is not allowed; leave the field out to keep its value", fieldName(dec.StackPointer()))
		}
	}
	if err := jsonv2.Unmarshal(body, v, jsonv2.RejectUnknownMembers(rejectUnknown)); err != nil {
		return jsonFault(err)
	}
	return nil
}

// fieldName renders a JSON pointer as the field path a user wrote:
// /Challenge/0/MinLength is "Challenge[0].MinLength".
func fieldName(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		if _, err := strconv.Atoi(tok); err == nil && b.Len() > 0 {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return strconv.Quote(clip(b.String(), 120))
}

// jsonFault turns a decoding error into a client error in plain words:
// the field, what was expected, what came; never a Go type or package name.
func jsonFault(err error) error {
	var syn *jsontext.SyntacticError
	var sem *jsonv2.SemanticError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn) && errors.Is(syn.Err, jsontext.ErrDuplicateName):
		return fault.New(fault.Invalid, "duplicate field %s", fieldName(syn.JSONPointer))
	case errors.As(err, &syn) && strings.Contains(syn.Err.Error(), "after top-level value"):
		return fault.New(fault.Invalid, "malformed JSON: unexpected data after the object")
	case errors.As(err, &syn):
		msg := strings.TrimPrefix(syn.Err.Error(), "jsontext: ")
		return fault.New(fault.Invalid, "malformed JSON at offset %d: %s", syn.ByteOffset, clip(msg, 120))
	case errors.As(err, &sem) && errors.Is(sem.Err, jsonv2.ErrUnknownName):
		return fault.New(fault.Invalid, "unknown field %s", fieldName(sem.JSONPointer))
	case errors.As(err, &sem):
		got := kindName(sem.JSONKind)
		if errors.As(err, &typ) {
			got = typ.Value
		} else if len(sem.JSONValue) > 0 {
			got += " " + string(sem.JSONValue)
		}
		want := "a valid value"
		if sem.GoType != nil {
			want = typeName(sem.GoType)
		}
		if len(sem.JSONPointer) == 0 {
			return fault.New(fault.Invalid, "expected %s, got %s", want, clip(got, 80))
		}
		return fault.New(fault.Invalid, "field %s: expected %s, got %s", fieldName(sem.JSONPointer), want, clip(got, 80))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fault.New(fault.Invalid, "malformed JSON: the body ends early")
	case errors.As(err, &typ):
		return fault.New(fault.Invalid, "expected %s, got %s", typeName(typ.Type), clip(typ.Value, 80))
	}
	return fault.New(fault.Invalid, "malformed JSON")
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 't', 'f':
		return "a boolean"
	case '{':
		return "an object"
	case '[':
		return "a list"
	}
	return "a value"
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int:
		return "an integer"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list"
	}
	return "an object"
}

// identityEncoding refuses a body sent with a Content-Encoding the server
// does not decode, rather than reading compressed bytes as text.
func identityEncoding(r *http.Request) error {
	for _, v := range r.Header.Values("Content-Encoding") {
		for _, enc := range strings.Split(v, ",") {
			if enc = strings.TrimSpace(enc); enc != "" && !strings.EqualFold(enc, "identity") {
				return fault.New(unsupportedType, "Content-Encoding %q is not supported; send the body uncompressed", clip(enc, 40))
			}
		}
	}
	return nil
}

// repeatable are the XML elements that form lists; any other element may
// appear once under its parent.
var repeatable = map[string]bool{"Challenge": true, "AllowedSpecialCharacter": true, "UserIdentificationChallenge": true}

// maxXMLDepth bounds the nesting of an XML body: no platform object is
// deeper than four levels (Challenges, Challenge, a field).
const maxXMLDepth = 4

// checkXML holds an XML body to the same one-meaning rules as JSON before
// it is decoded: UTF-8 only, no DOCTYPE, no attributes but namespace
// declarations, every prefix declared, no element twice under one parent
// (whatever its namespace) unless it forms a list, no text beside child
// elements (mixed content has no meaning in the platform's objects), and
// at most maxXMLDepth levels. Each token costs constant time: prefixes in
// scope are counted in one map, not looked up level by level.
func checkXML(body []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(body))
	var charset string
	dec.CharsetReader = func(label string, _ io.Reader) (io.Reader, error) {
		charset = label
		return nil, errors.New("charset")
	}
	type level struct {
		name     string
		declared []string // prefixes this element declares
		children map[string]bool
		text     bool // non-space character data directly inside
	}
	inScope := map[string]int{"xml": 1}
	stack := make([]level, 1, maxXMLDepth+1)
	stack[0].children = map[string]bool{}
	mixed := func(l level) error {
		return fault.New(fault.Invalid, "malformed XML: text beside elements inside <%s>", clip(l.name, 80))
	}
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			return nil
		}
		if charset != "" {
			return fault.New(unsupportedType, "XML in %s is not accepted; send UTF-8", clip(charset, 40))
		}
		if err != nil {
			return xmlFault(err)
		}
		switch t := tok.(type) {
		case xml.ProcInst:
			if t.Target == "xml" {
				if enc := procInstParam(string(t.Inst), "encoding"); enc != "" && !strings.EqualFold(enc, "utf-8") {
					return fault.New(unsupportedType, "XML in %s is not accepted; send UTF-8", clip(enc, 40))
				}
			}
		case xml.Directive:
			return fault.New(fault.Invalid, "malformed XML: a DOCTYPE or other declaration is not allowed")
		case xml.CharData:
			top := &stack[len(stack)-1]
			if len(bytes.TrimSpace(t)) == 0 {
				continue
			}
			if len(stack) == 1 {
				return fault.New(fault.Invalid, "malformed XML: text outside the root element")
			}
			top.text = true
			if len(top.children) > 0 {
				return mixed(*top)
			}
		case xml.StartElement:
			if len(stack) > maxXMLDepth {
				return fault.New(fault.Invalid, "malformed XML: elements nested deeper than %d levels", maxXMLDepth)
			}
			parent := &stack[len(stack)-1]
			if parent.text {
				return mixed(*parent)
			}
			l := level{name: t.Name.Local}
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "xmlns":
					l.declared = append(l.declared, a.Name.Local)
					inScope[a.Name.Local]++
				case a.Name.Space == "" && a.Name.Local == "xmlns":
				default:
					return fault.New(fault.Invalid, "malformed XML: unknown attribute %q on <%s>", clip(a.Name.Local, 80), clip(t.Name.Local, 80))
				}
			}
			if t.Name.Space != "" && inScope[t.Name.Space] == 0 {
				return fault.New(fault.Invalid, "malformed XML: namespace prefix %q of <%s> is not declared", clip(t.Name.Space, 80), clip(t.Name.Local, 80))
			}
			if parent.children == nil {
				parent.children = map[string]bool{}
			}
			if parent.children[t.Name.Local] && !repeatable[t.Name.Local] {
				return fault.New(fault.Invalid, "duplicate element <%s>", clip(t.Name.Local, 80))
			}
			parent.children[t.Name.Local] = true
			stack = append(stack, l)
		case xml.EndElement:
			if len(stack) > 1 {
				for _, p := range stack[len(stack)-1].declared {
					inScope[p]--
				}
				stack = stack[:len(stack)-1]
			}
		}
	}
}

// procInstParam reads a pseudo-attribute of <?xml ...?>.
func procInstParam(inst, name string) string {
	i := strings.Index(inst, name+"=")
	if i < 0 {
		return ""
	}
	rest := inst[i+len(name)+1:]
	if rest == "" || rest[0] != '"' && rest[0] != '\'' {
		return ""
	}
	end := strings.IndexByte(rest[1:], rest[0])
	if end < 0 {
		return ""
	}
	return rest[1 : end+1]
}

// xmlFault reports an XML decoding error without Go's internals.
func xmlFault(err error) error {
	var syn *xml.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fault.New(fault.Invalid, "malformed XML on line %d: %s", syn.Line, clip(syn.Msg, 120))
	case errors.As(err, &typ):
		return fault.New(fault.Invalid, "malformed XML: expected %s, got %s", typeName(typ.Type), clip(typ.Value, 80))
	}
	msg := err.Error()
	if strings.Contains(msg, "expected element type") {
		return fault.New(fault.Invalid, "malformed XML: %s", clip(msg, 200))
	}
	return fault.New(fault.Invalid, "malformed XML")
}

func decodeXML(body []byte, v any) error {
	if err := checkXML(body); err != nil {
		return err
	}
	dec := xml.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return xmlFault(err)
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return xmlFault(err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if strings.TrimSpace(string(t)) != "" {
				return fault.New(fault.Invalid, "malformed XML: unexpected text after the root element")
			}
		case xml.Comment, xml.ProcInst:
		default:
			return fault.New(fault.Invalid, "malformed XML: unexpected content after the root element")
		}
	}
	if c, ok := v.(checker); ok {
		return c.unknown()
	}
	return nil
}
