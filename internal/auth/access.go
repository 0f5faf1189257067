package auth

import (
	"time"

	"github.com/bizsec/bizsec/internal/settings"
)

// Role is what a user may do in a business.
type Role string

// Roles a user can hold in a business; RoleNone is no role at all.
const (
	RoleNone      Role = ""
	RoleSiteAdmin Role = "SiteAdmin" // reads and changes settings
	RoleAuditor   Role = "Auditor"   // reads settings only
)

// Valid reports whether r is a role that can be granted.
func (r Role) Valid() bool { return r == RoleSiteAdmin || r == RoleAuditor }

// Access is the level an operation requires. Routes declare it.
type Access int

// Access levels, from least to most demanding.
const (
	Public   Access = iota // anyone, no session
	LoggedIn               // any live session of the tenant
	Self                   // the user the operation is about, or a Site Admin of the user's tenant
	Read                   // Site Admin or Auditor of the business
	Admin                  // Site Admin of the business
)

// Allows reports whether a user holding role may perform an operation at level a.
func (r Role) Allows(a Access) bool {
	switch a {
	case Public, LoggedIn:
		return true
	case Read:
		return r == RoleSiteAdmin || r == RoleAuditor
	case Admin, Self:
		return r == RoleSiteAdmin
	}
	return false
}

// NeedsTwoFA applies RecurrenceMode: every login (twofa.each.login); once
// per RecurrenceIntervalMinutes (twofa.once.each.interval, from lastPassed);
// or on a device without a cookie from a 2FA passed within the interval
// (twofa.login.new.device, from deviceAdded). Zero times mean never.
func NeedsTwoFA(t settings.TwoFA, now, lastPassed, deviceAdded time.Time) bool {
	if !t.TwoFAEnabled {
		return false
	}
	interval := minutes(t.RecurrenceIntervalMinutes)
	switch t.RecurrenceMode {
	case settings.OnceEachInterval:
		return lastPassed.IsZero() || now.Sub(lastPassed) >= interval
	case settings.LoginNewDevice:
		return deviceAdded.IsZero() || now.Sub(deviceAdded) >= interval
	}
	return true
}
