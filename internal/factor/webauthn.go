package factor

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// RP is the relying party of the WebAuthn ceremonies: the site's public
// URL gives its ID (the host) and the one origin assertions must come from.
type RP struct {
	w  *webauthn.WebAuthn
	id string
}

// NewRP returns the relying party for a public URL such as
// https://api.example.com.
func NewRP(publicURL, name string) (*RP, error) {
	u, err := url.Parse(publicURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" {
		return nil, fmt.Errorf("factor: the public URL %q is not an http(s) URL with a host", publicURL)
	}
	w, err := webauthn.New(&webauthn.Config{RPID: u.Hostname(), RPDisplayName: name,
		RPOrigins: []string{u.Scheme + "://" + u.Host}})
	if err != nil {
		return nil, fmt.Errorf("factor: WebAuthn relying party: %w", err)
	}
	return &RP{w: w, id: u.Hostname()}, nil
}

// Account is a user as the ceremonies see it.
type Account struct {
	UserID      string // the user's ID; the user handle is derived from it
	Name        string // the email
	DisplayName string
	Credentials []webauthn.Credential
}

func (a Account) WebAuthnID() []byte                         { return UserHandle(a.UserID) }
func (a Account) WebAuthnName() string                       { return a.Name }
func (a Account) WebAuthnDisplayName() string                { return a.DisplayName }
func (a Account) WebAuthnCredentials() []webauthn.Credential { return a.Credentials }

// UserHandle is the WebAuthn user handle of a user ID: 32 bytes (user IDs
// can be longer than the 64 that handles may hold) that name no tenant.
func UserHandle(userID string) []byte {
	h := sha256.Sum256([]byte("bizsec webauthn user\x00" + userID))
	return h[:]
}

func descriptors(creds []webauthn.Credential) []protocol.CredentialDescriptor {
	out := make([]protocol.CredentialDescriptor, 0, len(creds))
	for _, c := range creds {
		out = append(out, c.Descriptor())
	}
	return out
}

// BeginRegistration returns the creation options for navigator.credentials.create
// (as JSON, {"publicKey":{...}}) and the state the answer is checked against.
// The account's credentials are excluded, so one key registers once. uv
// is the user verification asked for: preferred, required or discouraged.
func (rp *RP) BeginRegistration(a Account, uv string) (options []byte, state string, err error) {
	creation, session, err := rp.w.BeginRegistration(a, webauthn.WithExclusions(descriptors(a.Credentials)),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementPreferred, UserVerification: verification(uv)}),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation))
	if err != nil {
		return nil, "", err
	}
	session.Expires = time.Time{} // the pending factor's age, on the server's clock, decides
	if options, err = json.Marshal(creation); err != nil {
		return nil, "", err
	}
	st, err := json.Marshal(session)
	return options, string(st), err
}

// FinishRegistration checks the attestation the browser answered (the
// PublicKeyCredential as JSON) against state, and returns the credential
// to keep, as JSON.
func (rp *RP) FinishRegistration(a Account, state string, attestation []byte) (credential string, err error) {
	var session webauthn.SessionData
	if err := json.Unmarshal([]byte(state), &session); err != nil {
		return "", fmt.Errorf("factor: registration state: %w", err)
	}
	session.Expires = time.Time{} // the pending factor's age, on the server's clock, decides
	parsed, err := protocol.ParseCredentialCreationResponseBytes(attestation)
	if err != nil {
		return "", describe(err)
	}
	cred, err := rp.w.CreateCredential(a, session, parsed)
	if err != nil {
		return "", describe(err)
	}
	out, err := json.Marshal(cred)
	return string(out), err
}

// BeginLogin returns the request options for navigator.credentials.get
// (as JSON, {"publicKey":{...}}) over the account's credentials, and the
// challenge, which the caller keeps (a digest of it suffices). uv is as
// for BeginRegistration.
func (rp *RP) BeginLogin(a Account, uv string) (options []byte, challenge string, err error) {
	assertion, session, err := rp.w.BeginLogin(a, webauthn.WithUserVerification(verification(uv)))
	if err != nil {
		return nil, "", err
	}
	options, err = json.Marshal(assertion)
	return options, session.Challenge, err
}

// Assertion is a parsed answer to BeginLogin's options.
type Assertion struct {
	parsed *protocol.ParsedCredentialAssertionData
}

// ParseAssertion parses the PublicKeyCredential a browser answered, as JSON.
func ParseAssertion(data []byte) (Assertion, error) {
	p, err := protocol.ParseCredentialRequestResponseBytes(data)
	if err != nil {
		return Assertion{}, describe(err)
	}
	return Assertion{parsed: p}, nil
}

// Challenge is the challenge the authenticator signed.
func (as Assertion) Challenge() string { return as.parsed.Response.CollectedClientData.Challenge }

// CredentialID is the ID of the credential that signed.
func (as Assertion) CredentialID() []byte { return as.parsed.RawID }

// ErrCloned is a sign counter that did not advance: the credential may
// have been copied.
var ErrCloned = errors.New("factor: the authenticator's sign counter did not advance; the key may be cloned")

// FinishLogin checks the assertion against the challenge the caller kept
// (already compared with the one signed) and the account's credentials.
// It returns the credential that signed, with its new sign counter; a
// counter that did not advance is ErrCloned.
// With uv "required" an assertion whose authenticator did not verify the
// user is refused.
func (rp *RP) FinishLogin(a Account, challenge string, as Assertion, uv string) (webauthn.Credential, error) {
	session := webauthn.SessionData{Challenge: challenge, RelyingPartyID: rp.id, UserID: a.WebAuthnID(),
		UserVerification: verification(uv)}
	for _, c := range a.Credentials {
		session.AllowedCredentialIDs = append(session.AllowedCredentialIDs, c.ID)
	}
	cred, err := rp.w.ValidateLogin(a, session, as.parsed)
	if err != nil {
		return webauthn.Credential{}, describe(err)
	}
	if cred.Authenticator.CloneWarning {
		return *cred, ErrCloned
	}
	return *cred, nil
}

// verification is WebAuthn's user verification requirement of a policy's
// value; anything else is preferred.
func verification(uv string) protocol.UserVerificationRequirement {
	switch uv := protocol.UserVerificationRequirement(uv); uv {
	case protocol.VerificationRequired, protocol.VerificationDiscouraged:
		return uv
	}
	return protocol.VerificationPreferred
}

// CredentialOf decodes a credential kept by FinishRegistration.
func CredentialOf(s string) (webauthn.Credential, error) {
	var c webauthn.Credential
	err := json.Unmarshal([]byte(s), &c)
	return c, err
}

// describe keeps the library's detail, which names what was wrong.
func describe(err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" {
		return fmt.Errorf("%s: %s", pe.Details, pe.DevInfo)
	}
	return err
}
