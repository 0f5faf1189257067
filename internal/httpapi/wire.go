package httpapi

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"

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

func parseInt(b []byte) (int, error) {
	s, quoted := unquote(b)
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < -1<<31 || n > 1<<31-1 {
		kind := "number " + s
		if quoted {
			kind = "string " + strconv.Quote(s)
		}
		return 0, &json.UnmarshalTypeError{Value: kind, Type: intType}
	}
	return n, nil
}

func parseBool(b []byte) (bool, error) {
	s, quoted := unquote(b)
	switch strings.ToLower(strings.TrimSpace(s)) {
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
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return fault.New(fault.Invalid, "the request body is larger than %d bytes", maxBody)
	case err != nil:
		return fault.New(fault.Invalid, "the request body could not be read")
	case len(strings.TrimSpace(string(body))) == 0:
		return fault.New(fault.Invalid, "the request body is empty")
	}
	if isXML(mediaType) {
		return decodeXML(body, v)
	}
	return decodeJSON(body, v)
}

func decodeJSON(body []byte, v any) error {
	if trimmed := strings.TrimSpace(string(body)); trimmed[0] != '{' {
		return fault.New(fault.Invalid, "the request body must be a JSON object")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonFault(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fault.New(fault.Invalid, "malformed JSON: unexpected data after the object")
	}
	return nil
}

func jsonFault(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fault.New(fault.Invalid, "malformed JSON at offset %d: %s", syntax.Offset, syntax.Error())
	case errors.As(err, &typ) && typ.Field != "":
		return fault.New(fault.Invalid, "field %q: expected %s, got %s", typ.Field, typeName(typ.Type), clip(typ.Value, 80))
	case errors.As(err, &typ):
		return fault.New(fault.Invalid, "expected a JSON object, got %s", typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fault.New(fault.Invalid, "malformed JSON: the body ends early")
	}
	if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fault.New(fault.Invalid, "unknown field %s", clip(msg, 80))
	}
	return fault.New(fault.Invalid, "malformed JSON: %s", clip(err.Error(), 200))
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

func decodeXML(body []byte, v any) error {
	dec := xml.NewDecoder(strings.NewReader(string(body)))
	if err := dec.Decode(v); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return fault.New(fault.Invalid, "malformed XML: expected %s, got %s", typeName(typ.Type), clip(typ.Value, 80))
		}
		return fault.New(fault.Invalid, "malformed XML: %s", clip(err.Error(), 200))
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fault.New(fault.Invalid, "malformed XML: %s", clip(err.Error(), 200))
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
