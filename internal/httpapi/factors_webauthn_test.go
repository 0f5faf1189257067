package httpapi_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/bizsec/bizsec/internal/login"
)

const publicURL = "https://bizsec.test"

var b64 = base64.RawURLEncoding

// softKey is a software authenticator holding one credential: it answers
// navigator.credentials.create and .get as a security key would, with
// "none" attestation and a sign counter it is told.
type softKey struct {
	key    *ecdsa.PrivateKey
	id     []byte
	origin string
	rpID   string
}

func newSoftKey(t *testing.T) *softKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	rand.Read(id)
	return &softKey{key: k, id: id, origin: publicURL, rpID: "bizsec.test"}
}

func (k *softKey) authData(flags byte, counter uint32, attested []byte) []byte {
	rp := sha256.Sum256([]byte(k.rpID))
	out := append(rp[:], flags)
	out = binary.BigEndian.AppendUint32(out, counter)
	return append(out, attested...)
}

func clientData(typ, challenge, origin string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": origin, "crossOrigin": false})
	return b
}

// create answers creation options with the PublicKeyCredential's JSON.
func (k *softKey) create(t testing.TB, options json.RawMessage) string {
	t.Helper()
	var o struct {
		PublicKey struct {
			Challenge string              `json:"challenge"`
			RP        struct{ ID string } `json:"rp"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil || o.PublicKey.Challenge == "" {
		t.Fatalf("creation options: %v %s", err, options)
	}
	if o.PublicKey.RP.ID != k.rpID {
		t.Fatalf("relying party %q, want %q", o.PublicKey.RP.ID, k.rpID)
	}
	point, err := k.key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	cose, err := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: point[1:33], -3: point[33:65]})
	if err != nil {
		t.Fatal(err)
	}
	attested := make([]byte, 16) // AAGUID: zero, as with "none" attestation
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(k.id)))
	attested = append(append(attested, k.id...), cose...)
	att, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{},
		"authData": k.authData(0x01|0x04|0x40, 0, attested)})
	if err != nil {
		t.Fatal(err)
	}
	cred, _ := json.Marshal(map[string]any{"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(clientData("webauthn.create", o.PublicKey.Challenge, k.origin)),
			"attestationObject": b64.EncodeToString(att)}})
	return string(cred)
}

// get answers request options with a signed assertion at counter.
func (k *softKey) get(t testing.TB, options json.RawMessage, counter uint32) string {
	t.Helper()
	var o struct {
		PublicKey struct {
			Challenge        string `json:"challenge"`
			AllowCredentials []struct {
				ID string `json:"id"`
			} `json:"allowCredentials"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil || o.PublicKey.Challenge == "" {
		t.Fatalf("request options: %v %s", err, options)
	}
	allowed := false
	for _, c := range o.PublicKey.AllowCredentials {
		allowed = allowed || c.ID == b64.EncodeToString(k.id)
	}
	if !allowed {
		t.Fatalf("the credential is not among those allowed: %s", options)
	}
	return k.sign(t, o.PublicKey.Challenge, counter)
}

func (k *softKey) sign(t testing.TB, challenge string, counter uint32) string {
	t.Helper()
	cd := clientData("webauthn.get", challenge, k.origin)
	ad := k.authData(0x01|0x04, counter, nil)
	h := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	cred, _ := json.Marshal(map[string]any{"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(cd), "authenticatorData": b64.EncodeToString(ad),
			"signature": b64.EncodeToString(sig)}})
	return string(cred)
}

func newWebAuthnEnv(t *testing.T) *env {
	return newEnvConfigured(t, func(c *login.Config) { c.PublicURL = publicURL })
}

// newEnvConfigured starts an env whose login service configuration edit applies
// from the first start.
func newEnvConfigured(t *testing.T, edit func(*login.Config)) *env {
	t.Helper()
	e := newEnv(t)
	e.config = edit
	e.restart()
	return e
}

// enrolKey registers k for the session's user.
func (e *env) enrolKey(s *session, email string, k *softKey) string {
	e.t.Helper()
	r := e.do(call{method: "POST", path: factorsPath(e.users[email]) + "/webauthn", body: `{"Name":"yubikey"}`, as: s})
	var out struct {
		FactorID string
		Options  json.RawMessage
	}
	if err := json.Unmarshal(r.body, &out); r.status != http.StatusCreated || err != nil {
		e.t.Fatalf("enrol WebAuthn: %d %s", r.status, r.body)
	}
	body, _ := json.Marshal(map[string]json.RawMessage{"Credential": json.RawMessage(k.create(e.t, out.Options))})
	r = e.do(call{method: "POST", path: factorsPath(e.users[email]) + "/" + out.FactorID + "/confirm", body: string(body), as: s})
	if r.status != 200 {
		e.t.Fatalf("confirm WebAuthn: %d %s", r.status, r.body)
	}
	return out.FactorID
}

func (e *env) enterAssertion(s *session, assertion string) reply {
	body, _ := json.Marshal(map[string]any{"parameters": map[string]string{"2fa.webauthn.assertion": assertion, "Action": "validate"}})
	return e.do(call{method: "POST", path: "/api/login/pendingtasks", as: s, body: string(body)})
}

// TestWebAuthnLogin drives both ceremonies with a software authenticator:
// registration with its attestation, login with an assertion as a pending
// task of its own; the challenge is single-use, the sign counter must
// advance, the origin and the key must be the registered ones.
func TestWebAuthnLogin(t *testing.T) {
	e := newWebAuthnEnv(t)
	admin := e.login("admin@acme.example")
	dev := e.login(devEmail)
	key := newSoftKey(t)
	id := e.enrolKey(dev, devEmail, key)
	if list, _ := e.factors(dev, devEmail); len(list.Factors) != 1 || list.Factors[0].FactorID != id ||
		list.Factors[0].Type != "webauthn" || !list.Factors[0].Active {
		t.Fatalf("factors after registration: %+v", list)
	}
	e.twoFAOn(admin)
	mails := e.mailsTo(devEmail)

	pending, a := e.strongLogin(devEmail)
	if fmt.Sprint(a.PendingTasks) != "[2fa.webauthn.assertion]" || a.TwoFactor == nil || len(a.TwoFactor.WebAuthn) == 0 {
		t.Fatalf("pending answer: %s", mustJSON(a))
	}
	if e.mailsTo(devEmail) != mails {
		t.Error("a user with a security key was mailed a code")
	}
	if r := e.do(call{method: "GET", path: "/api/login/status", as: pending}); r.status != 200 ||
		!strings.Contains(string(r.body), `"pendingTasks":["2fa.webauthn.assertion"]`) {
		t.Errorf("status of the pending login: %d %s", r.status, r.body)
	}
	// The challenge, which the client knows, is no code of the platform's task.
	var opts struct{ PublicKey struct{ Challenge string } }
	json.Unmarshal(a.TwoFactor.WebAuthn, &opts)
	if r := e.enterCode(pending, opts.PublicKey.Challenge); r.status != 401 {
		t.Fatalf("the challenge as a code: %d %s", r.status, r.body)
	}
	assertion := key.get(t, a.TwoFactor.WebAuthn, 1)
	r := e.enterAssertion(pending, assertion)
	if r.status != 200 {
		t.Fatalf("assertion: %d %s", r.status, r.body)
	}
	if _, lr := e.factors(sessionOf(tenant, r), devEmail); lr.status != 200 {
		t.Fatalf("the session of the assertion does not work: %d", lr.status)
	}
	if s := sessionOf(tenant, r); s.csrf == "" || s.token == pending.token {
		t.Fatalf("the assertion gave no live session: %s", r.body)
	}

	other := newSoftKey(t)
	other.id = key.id // the same credential ID, another private key
	wrongOrigin := *key
	wrongOrigin.origin = "https://evil.test"
	for _, c := range []struct {
		name string
		sign func(options json.RawMessage) string
		ok   bool
	}{
		{"the assertion of an earlier login", func(json.RawMessage) string { return assertion }, false},
		{"a counter that did not advance", func(o json.RawMessage) string { return key.get(t, o, 1) }, false},
		{"another key", func(o json.RawMessage) string { return other.get(t, o, 5) }, false},
		{"another origin", func(o json.RawMessage) string { return wrongOrigin.get(t, o, 5) }, false},
		{"not an assertion", func(json.RawMessage) string { return `{"id":"x"}` }, false},
		{"a counter that advanced", func(o json.RawMessage) string { return key.get(t, o, 7) }, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			pending, a := e.strongLogin(devEmail)
			r := e.enterAssertion(pending, c.sign(a.TwoFactor.WebAuthn))
			if (r.status == 200) != c.ok {
				t.Errorf("status %d, want success %v: %s", r.status, c.ok, r.body)
			}
		})
	}
	if list, _ := e.factors(admin, devEmail); list.Factors[0].LastUsed == "" {
		t.Error("the key's last use is not shown")
	}
}

// TestWebAuthnNeedsPublicURL: without -public-url there is no relying
// party, and registration says so.
func TestWebAuthnNeedsPublicURL(t *testing.T) {
	e := newEnv(t)
	dev := e.login(devEmail)
	if r := e.do(call{method: "POST", path: factorsPath(e.users[devEmail]) + "/webauthn", as: dev}); r.status != http.StatusServiceUnavailable {
		t.Errorf("WebAuthn without a public URL: %d %s", r.status, r.body)
	}
}
