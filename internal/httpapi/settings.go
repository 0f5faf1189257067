package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/settingsvc"
	"github.com/bizsec/bizsec/internal/store"
)

// settingsObjects are the business's settings resources served at
// /api/businesses/{BusinessID}/{name} by GET (Site Admin, Auditor) and PUT
// (Site Admin). Each object's file registers its op with serveObject; a
// new object is its type and Kind in settings and its wire form and op
// here, in a file of its own.
var settingsObjects []resource

// serveObject adds op to settingsObjects.
func serveObject[T, W any](op settingsOp[T, W]) settingsOp[T, W] {
	settingsObjects = append(settingsObjects, op)
	return op
}

// resource is a settings object: its path segment, media types and two operations.
type resource interface {
	name() string
	mediaTypes() mediaTypes
	get(s *Server) handler
	put(s *Server) handler
}

// settingsOp serves GET and PUT of one settings object of type T whose
// wire form is W.
type settingsOp[T any, W any] struct {
	kind  settings.Kind[T]
	types mediaTypes
	out   func(T) any
	// putOut, when set, is the PUT answer, which may show what the
	// request itself carried; else out.
	putOut func(v T, in *W) any
	// check refuses a body the wire form allows but that means nothing
	// (nil: none). The object's rules are the settings service's.
	check func(in *W) error
	// apply sets what the body carries on the stored object.
	apply func(in *W, v *T)
}

// etag renders a settings version as a strong entity tag.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// ifMatch reads If-Match: a version the client read, "*", or absent.
func ifMatch(r *http.Request) (int64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return store.AnyVersion, nil
	}
	v, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(h, "W/"), `"`), 10, 64)
	if err != nil || v < 0 {
		return 0, fault.New(fault.PreconditionErr, "If-Match %q is not an ETag this server gave", clip(h, 40))
	}
	return v, nil
}

func (op settingsOp[T, W]) name() string { return op.kind.Name }

func (op settingsOp[T, W]) mediaTypes() mediaTypes { return op.types }

func (op settingsOp[T, W]) get(s *Server) handler {
	return func(w http.ResponseWriter, r *http.Request, q *request) error {
		v, version, err := settingsvc.Get(r.Context(), s.settings, op.kind, q.business.ID)
		if err != nil {
			return err
		}
		return s.answerVersion(w, q, op.kind.Name, q.business.ID, version, func() any { return op.out(v) })
	}
}

// encodedKey names one answer: an object of a business in a media type.
type encodedKey struct{ object, business, mediaType string }

type encodedBody struct {
	version int64
	etag    []string
	body    []byte
}

// maxEncoded bounds the answers kept encoded.
const maxEncoded = 50_000

// answerVersion answers with an object's version, encoded once per version
// and media type: reads of an unchanged object cost no encoding.
func (s *Server) answerVersion(w http.ResponseWriter, q *request, object, business string, version int64, out func() any) error {
	key := encodedKey{object, business, q.mediaType}
	if v, ok := s.encoded.Load(key); ok && v.(*encodedBody).version == version {
		e := v.(*encodedBody)
		w.Header()["Etag"] = e.etag
		writeEncoded(w, http.StatusOK, q.mediaType, e.body)
		return nil
	}
	body, err := encode(q.mediaType, out())
	if err != nil {
		return err
	}
	e := &encodedBody{version: version, etag: []string{etag(version)}, body: body}
	if _, loaded := s.encoded.Swap(key, e); !loaded && s.encodedCount.Add(1) > maxEncoded {
		s.encoded.Delete(key)
		s.encodedCount.Add(-1)
	}
	w.Header()["Etag"] = e.etag
	writeEncoded(w, http.StatusOK, q.mediaType, body)
	return nil
}

func (op settingsOp[T, W]) put(s *Server) handler {
	return func(w http.ResponseWriter, r *http.Request, q *request) error {
		match, err := ifMatch(r)
		if err != nil {
			return err
		}
		var in W
		if err := readBody(w, r, op.types, &in); err != nil {
			return err
		}
		if op.check != nil {
			if err := op.check(&in); err != nil {
				return err
			}
		}
		v, version, err := settingsvc.Update(r.Context(), s.settings, op.kind, q.business, settingsvc.Change{
			Actor: q.session.UserID, IfMatch: match, Client: s.clientIP(r),
			Host: hostOnly(r.Host), Secure: s.secureCookies || r.TLS != nil,
		}, func(v *T) { op.apply(&in, v) })
		if err != nil {
			return err
		}
		w.Header().Set("ETag", etag(version))
		if op.putOut != nil {
			writeBody(w, http.StatusOK, q.mediaType, op.putOut(v, &in))
			return nil
		}
		writeBody(w, http.StatusOK, q.mediaType, op.out(v))
		return nil
	}
}

var (
	_ = serveObject(settingsOp[settings.TwoFA, twoFAWire]{
		kind: settings.TwoFAKind, types: twoFATypes, apply: (*twoFAWire).apply,
		out: func(t settings.TwoFA) any { return twoFAOut(t) },
		// An empty name is how the object stores "the default"; sent, it
		// is a mistake.
		check: func(in *twoFAWire) error {
			if in.DeviceCookieName != nil && *in.DeviceCookieName == "" {
				return settings.CheckDeviceCookieName("")
			}
			return nil
		},
	})
	_ = serveObject(settingsOp[settings.LoginPolicy, loginPolicyWire]{
		kind: settings.LoginPolicyKind, types: settingsTypes, apply: (*loginPolicyWire).apply,
		out: func(p settings.LoginPolicy) any { return loginPolicyOut(p) },
	})
	_ = serveObject(settingsOp[settings.Security, securityWire]{
		kind: settings.SecurityKind, types: settingsTypes, apply: (*securityWire).apply,
		out: func(sec settings.Security) any { return securityOut(sec) },
		// As the platform's sample response #2: the PUT answer echoes the
		// CaptchaSiteSecret this request sent (the caller has it; nothing is
		// disclosed), and masks a secret it did not send. GET always masks.
		putOut: func(sec settings.Security, in *securityWire) any {
			out := securityOut(sec)
			if out.CaptchaSiteSecret != nil && in.CaptchaSiteSecret != nil && *in.CaptchaSiteSecret != secretMask {
				out.CaptchaSiteSecret = ptr(*in.CaptchaSiteSecret)
			}
			return out
		},
	})
	// challengesOp is served at its own paths (Handler), beside the
	// unauthenticated GET.
	challengesOp = settingsOp[[]settings.Challenge, challengesWire]{
		kind: settings.ChallengesKind, types: settingsTypes,
		out:   func(cs []settings.Challenge) any { return challengesOut(cs, true) },
		apply: func(in *challengesWire, cs *[]settings.Challenge) { *cs = in.challenges() },
	}
)

// getChallenges needs no login and no CSRF header: it helps a user log in.
func (s *Server) getChallenges(w http.ResponseWriter, r *http.Request, q *request) error {
	include := false
	switch v := strings.ToLower(r.URL.Query().Get("IncludeInactive")); v {
	case "", "false":
	case "true":
		include = true
	default:
		return fault.New(fault.Invalid, "IncludeInactive must be true or false, got %q", clip(v, 40))
	}
	cs, version, err := settingsvc.Get(r.Context(), s.settings, settings.ChallengesKind, q.business.ID)
	if err != nil {
		return err
	}
	object := "challenges"
	if include {
		object = "challenges?IncludeInactive=true"
	}
	return s.answerVersion(w, q, object, q.business.ID, version, func() any { return challengesOut(cs, include) })
}

// readBody checks the request's Content-Type and decodes its body into v.
func readBody(w http.ResponseWriter, r *http.Request, types mediaTypes, v any) error {
	ct, err := types.requestType(r)
	if err != nil {
		return err
	}
	return decodeBody(w, r, ct, v)
}
