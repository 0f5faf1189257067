package settings

// SessionPolicy is bizsec's own settings object beside the login policy's
// ConcurrentLogin (which stays the platform's on/off switch): how many live
// sessions one user may have, and what a login past that does, as
// Keycloak's session limiter.
type SessionPolicy struct {
	// MaximumSessions per user; 0 is no limit.
	MaximumSessions int
	// AtLimit is what a login at the limit does: RefuseNewLogin or
	// EndOldestSession.
	AtLimit string
}

// What a login at the session limit does.
const (
	RefuseNewLogin   = "RefuseNewLogin"
	EndOldestSession = "EndOldestSession"
)

// MaxSessionsPerUser bounds MaximumSessions.
const MaxSessionsPerUser = 1000

// DefaultSessionPolicy sets no limit, so that a new business behaves as the
// platform does.
func DefaultSessionPolicy() SessionPolicy {
	return SessionPolicy{MaximumSessions: 0, AtLimit: EndOldestSession}
}

// Validate reports whether p is a usable policy.
func (p SessionPolicy) Validate() error {
	var v invalid
	v.between("MaximumSessions", p.MaximumSessions, 0, MaxSessionsPerUser)
	v.oneOf("AtLimit", p.AtLimit, RefuseNewLogin, EndOldestSession)
	return v.err()
}

// SessionPolicyKind is bizsec's own session limit object.
var SessionPolicyKind = register(Kind[SessionPolicy]{Object: &Object{Order: 5, Name: "sessionpolicy", Alias: "sessions", Title: "Session limit", Extension: true,
	Intro: "How many live sessions one user may have, beside the login policy's ConcurrentLogin.",
	Groups: []Group{
		{"Session limit", []Field{
			number("MaximumSessions", "Live sessions per user", "sessions", 0, MaxSessionsPerUser, "0 sets no limit."),
			{Name: "AtLimit", Label: "A login at the limit", Kind: "choice",
				Options: [][2]string{{EndOldestSession, "Ends the oldest session"}, {RefuseNewLogin, "Is refused"}},
				Help:    "What a login does when the user already has the most sessions allowed."},
		}},
	}},
	Default: DefaultSessionPolicy, Validate: SessionPolicy.Validate})
