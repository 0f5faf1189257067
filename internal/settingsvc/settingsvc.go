// Package settingsvc is the settings service: what a Site Admin's read or
// change of a settings object does, whoever asks (the REST API, the CLI
// through it, the console). It knows no http.Request: values in, values
// out. A change is checked against the object's rules (its descriptor's
// Validate, and Check for what needs more than the object), written with
// its audit entry and version by the store, and logged.
package settingsvc

import (
	"context"
	"log/slog"
	"mime"
	"strings"
	"time"
	"unicode"

	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/settings"
	"github.com/bizsec/bizsec/internal/store"
)

// Service reads and changes businesses' settings objects.
type Service struct {
	store *store.Store
	log   *slog.Logger
}

// New returns the service over st; changes are logged to log (nil: not logged).
func New(st *store.Store, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: st, log: log}
}

// Change is who changes settings, on which version, and from where.
type Change struct {
	Actor   string // user ID, for the audit history
	IfMatch int64  // the version the writer saw, or store.AnyVersion
	// Host is the host the Site Admin reached, and Secure whether cookies
	// are Secure there: cookie settings must suit them.
	Host   string
	Secure bool
	// Client is the Site Admin's address, for the log.
	Client string
}

// Get returns a business's settings object and its version (0 until first
// written). Callers must not modify what they get: slices are shared.
func Get[T any](ctx context.Context, s *Service, k settings.Kind[T], business string) (T, int64, error) {
	return store.Get(ctx, s.store, k, business)
}

// Update changes a business's settings object: apply sets what the Site
// Admin sent on the stored value, and the result must pass the object's
// rules. It refuses with PreconditionFailed when c.IfMatch is not the
// current version; a change that changes nothing writes nothing.
func Update[T any](ctx context.Context, s *Service, k settings.Kind[T], b store.Business, c Change, apply func(*T)) (T, int64, error) {
	origin := settings.Origin{Host: c.Host, Secure: c.Secure}
	if k.Check != nil {
		// The tenant's text rules, read before the write's transaction (a
		// read inside it would hold two connections at once).
		sec, _, err := store.Get(ctx, s.store, settings.SecurityKind, store.RootBusinessID(b.TenantID))
		if err != nil {
			var zero T
			return zero, 0, err
		}
		origin.Security = sec
	}
	v, version, err := store.Update(ctx, s.store, k, b.ID, store.Write{Actor: c.Actor, IfMatch: c.IfMatch}, func(v *T) error {
		before := *v
		apply(v)
		if k.Check != nil {
			if err := k.Check(*v, before, origin); err != nil {
				return err
			}
		}
		return k.Validate(*v)
	})
	if err != nil {
		return v, version, err
	}
	s.log.InfoContext(ctx, "settings changed", "event.action", "settings-change", "event.outcome", "success",
		"tenant", b.TenantID, "business", b.ID, "setting", k.Name, "version", version,
		"user.id", c.Actor, "client.address", c.Client)
	return v, version, nil
}

// Audit returns a business's settings changes and account events, newest
// first: of one object (by name or CLI alias) or "account" when kind is
// not "", at most limit (1 to 500), only those older than the entry before
// when before > 0.
func (s *Service) Audit(ctx context.Context, business, kind string, limit int, before int64) ([]store.AuditEntry, error) {
	if kind != "" {
		o, ok := settings.ObjectNamed(kind)
		switch {
		case ok && o.Name == kind, kind == settings.ChallengesKind.Name, kind == store.AccountKind:
		default:
			names := []string{}
			for _, o := range settings.Objects {
				names = append(names, o.Name)
			}
			return nil, fault.New(fault.Invalid, "setting must be %s, %s or %s",
				strings.Join(names, ", "), settings.ChallengesKind.Name, store.AccountKind)
		}
	}
	if limit < 1 || limit > 500 {
		return nil, fault.New(fault.Invalid, "limit must be 1 to 500")
	}
	return s.store.Audit(ctx, business, kind, limit, before)
}

// Check rates a business's current settings against named requirements
// (settings.Check).
func (s *Service) Check(ctx context.Context, business string) ([]settings.Finding, error) {
	var snap settings.Snapshot
	var err error
	if snap.TwoFA, _, err = Get(ctx, s, settings.TwoFAKind, business); err != nil {
		return nil, err
	}
	if snap.Login, _, err = Get(ctx, s, settings.LoginPolicyKind, business); err != nil {
		return nil, err
	}
	if snap.Security, _, err = Get(ctx, s, settings.SecurityKind, business); err != nil {
		return nil, err
	}
	if snap.Challenges, _, err = Get(ctx, s, settings.ChallengesKind, business); err != nil {
		return nil, err
	}
	if snap.Password, _, err = Get(ctx, s, settings.PasswordPolicyKind, business); err != nil {
		return nil, err
	}
	if snap.Factors, _, err = Get(ctx, s, settings.FactorPolicyKind, business); err != nil {
		return nil, err
	}
	return settings.Check(snap), nil
}

// maxFileName bounds an uploaded file's name.
const maxFileName = 255

// CheckFileName refuses a name no upload may have: empty, too long, with
// a slash or a control character, or refused by the tenant's text rules.
// Upload checks it too; a caller checks it first to refuse before reading
// the content.
func (s *Service) CheckFileName(ctx context.Context, b store.Business, name string) error {
	sec, _, err := store.Get(ctx, s.store, settings.SecurityKind, store.RootBusinessID(b.TenantID))
	if err != nil {
		return err
	}
	return checkFileName(sec, name)
}

func checkFileName(sec settings.Security, name string) error {
	if name == "" || len(name) > maxFileName || strings.ContainsFunc(name, func(r rune) bool { return r == '/' || r == '\\' || unicode.IsControl(r) }) {
		return fault.New(fault.Invalid, "the file name must be 1 to %d characters without slashes or control characters", maxFileName)
	}
	return sec.CheckText("the file name", name)
}

// Upload stores a file in a business under the tenant's upload policy:
// its claimed media type must be one of AllowedFileTypes and, under
// AllowedFileTypesStrictPolicy, its content must be that type and carry
// no script.
func (s *Service) Upload(ctx context.Context, b store.Business, actor, name, claimed string, content []byte, now time.Time) (store.File, error) {
	sec, _, err := store.Get(ctx, s.store, settings.SecurityKind, store.RootBusinessID(b.TenantID))
	if err != nil {
		return store.File{}, err
	}
	if err := checkFileName(sec, name); err != nil {
		return store.File{}, err
	}
	if err := sec.CheckFile(claimed, content); err != nil {
		s.log.InfoContext(ctx, "upload refused", "business", b.ID, "claimed", claimed[:min(len(claimed), 80)], "reason", fault.MessageOf(err))
		return store.File{}, err
	}
	ct, _, _ := mime.ParseMediaType(claimed)
	f := store.File{BusinessID: b.ID, Name: name, ContentType: ct, Content: content, UploadedAt: now, UploadedBy: actor}
	return f, s.store.PutFile(ctx, f)
}

// File returns a file uploaded to a business.
func (s *Service) File(ctx context.Context, business, name string) (store.File, error) {
	return s.store.GetFile(ctx, business, name)
}
