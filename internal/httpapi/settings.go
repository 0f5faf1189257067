package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"

	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/store"
)

// settingsObjects are the business's settings resources served at
// /api/businesses/{BusinessID}/{name} by GET (Site Admin, Auditor) and PUT
// (Site Admin). A new object is a line here, its op below, its wire form in
// objects.go, its Kind in store and its type in settings.
var settingsObjects = []resource{twoFAOp, loginPolicyOp, securityOp, passwordPolicyOp, sessionPolicyOp, factorPolicyOp}

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
	kind  store.Kind[T]
	types mediaTypes
	out   func(T) any
	// putOut, when set, is the PUT answer, which may show what the
	// request itself carried; else out.
	putOut func(v T, in *W) any
	// change turns a decoded body into the change to make, checking what
	// needs more than the body. Rules that span objects are the store's.
	change func(s *Server, r *http.Request, q *request, in *W) (func(*T) error, error)
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
		v, version, err := store.Get(r.Context(), s.store, op.kind, q.business.ID)
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
		change, err := op.change(s, r, q, &in)
		if err != nil {
			return err
		}
		v, version, err := store.Update(r.Context(), s.store, op.kind, q.business.ID,
			store.Write{Actor: q.session.UserID, IfMatch: match}, change)
		if err != nil {
			return err
		}
		s.log.InfoContext(r.Context(), "settings changed", "event.action", "settings-change", "event.outcome", "success",
			"tenant", q.business.TenantID, "business", q.business.ID, "setting", op.kind.Name, "version", version,
			"user.id", q.session.UserID, "client.address", s.clientIP(r))
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
	twoFAOp = settingsOp[settings.TwoFA, twoFAWire]{
		kind: store.TwoFAKind, types: twoFATypes,
		out: func(t settings.TwoFA) any { return twoFAOut(t) },
		change: func(_ *Server, _ *http.Request, q *request, in *twoFAWire) (func(*settings.TwoFA) error, error) {
			if in.DeviceCookieName != nil {
				if err := settings.CheckDeviceCookieName(*in.DeviceCookieName); err != nil {
					return nil, err
				}
			}
			if in.DeviceCookieValue != nil {
				if err := q.policy.Security.CheckText("DeviceCookieValue", *in.DeviceCookieValue); err != nil {
					return nil, err
				}
			}
			return func(t *settings.TwoFA) error { in.apply(t); return t.Validate() }, nil
		},
	}
	loginPolicyOp = settingsOp[settings.LoginPolicy, loginPolicyWire]{
		kind: store.LoginPolicyKind, types: settingsTypes,
		out: func(p settings.LoginPolicy) any { return loginPolicyOut(p) },
		change: func(_ *Server, _ *http.Request, _ *request, in *loginPolicyWire) (func(*settings.LoginPolicy) error, error) {
			return func(p *settings.LoginPolicy) error { in.apply(p); return p.Validate() }, nil
		},
	}
	securityOp = settingsOp[settings.Security, securityWire]{
		kind: store.SecurityKind, types: settingsTypes,
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
		change: func(s *Server, r *http.Request, _ *request, in *securityWire) (func(*settings.Security) error, error) {
			if err := s.checkCookieSettings(r, in); err != nil {
				return nil, err
			}
			return func(sec *settings.Security) error { in.apply(sec); return sec.Validate() }, nil
		},
	}
	challengesOp = settingsOp[[]settings.Challenge, challengesWire]{
		kind: store.ChallengesKind, types: settingsTypes,
		out: func(cs []settings.Challenge) any { return challengesOut(cs, true) },
		change: func(_ *Server, _ *http.Request, q *request, in *challengesWire) (func(*[]settings.Challenge) error, error) {
			set := in.challenges()
			if err := settings.ValidateChallenges(set); err != nil {
				return nil, err
			}
			for i, ch := range set {
				if err := q.policy.Security.CheckText(fmt.Sprintf("Challenge[%d].ChallengeQuestion", i), ch.ChallengeQuestion); err != nil {
					return nil, err
				}
			}
			return func(cs *[]settings.Challenge) error { *cs = set; return nil }, nil
		},
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
	cs, version, err := store.Get(r.Context(), s.store, store.ChallengesKind, q.business.ID)
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

// checkCookieSettings refuses cookie settings with which no browser could
// log in: SameSite None without Secure cookies (plain HTTP and no
// -secure-cookies), and a cookie domain that is a public suffix or not the
// request's host or a parent of it (browsers drop such cookies).
func (s *Server) checkCookieSettings(r *http.Request, in *securityWire) error {
	if v := in.AuthTokenCookieSameSite; v != nil && *v == "None" && !s.secureCookies && r.TLS == nil {
		return fault.New(fault.Invalid, "AuthTokenCookieSameSite None needs Secure cookies, which browsers keep only over HTTPS: "+
			"serve bizsec over TLS, or start it with -secure-cookies behind a TLS proxy")
	}
	v := in.AuthTokenCookieDomain
	if v == nil || *v == settings.CookieDomainHostname || strings.HasPrefix(strings.ToLower(*v), "com.soa.") {
		return nil // the constant, or refused by Validate
	}
	domain := strings.ToLower(strings.TrimPrefix(*v, "."))
	if suffix, _ := publicsuffix.PublicSuffix(domain); suffix == domain {
		return fault.New(fault.Invalid, "AuthTokenCookieDomain %q is a public suffix: browsers refuse cookies for it", clip(*v, 80))
	}
	host := hostOnly(r.Host)
	if host != domain && !strings.HasSuffix(host, "."+domain) {
		return fault.New(fault.Invalid, "AuthTokenCookieDomain %q is not %s or a parent domain of it: browsers would drop the cookie",
			clip(*v, 80), clip(host, 80))
	}
	return nil
}
