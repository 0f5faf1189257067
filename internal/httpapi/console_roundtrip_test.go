package httpapi_test

import "testing"

// TestConsoleRoundTrip opens each settings page and saves it unchanged:
// the object the API answers afterwards is the one it answered before,
// field for field. Each object first holds values away from the defaults,
// among them every answer constraint of a question and both meanings of
// the special-character list (nil: any; empty: none); the password
// policy's list and bizsec's own session limit too.
func TestConsoleRoundTrip(t *testing.T) {
	e := newEnv(t)
	c := newConsole(t, e)
	admin := e.login("admin@acme.example")
	e.put(admin, "loginpolicy", `{"MaxSequentialFailureAttemptsAllowed":"7","AttemptsPeriod":"11","SuspensionMinutes":"45",
		"InactiveSessionTimeout":"14","ActiveSessionTimeout":"600","PersistentSession":"false","AutoLoginExternalDomain":"com.soa.enabled"}`)
	e.put(admin, "twofasettings", `{"TwoFAEnabled":false,"CodeValidSeconds":200,"MaxAttempts":2,"RecurrenceMode":"twofa.once.each.interval",
		"RecurrenceIntervalMinutes":720,"DeviceCookieName":"acme_device","DeviceCookieValue":"kept"}`)
	e.put(admin, "securitysettings", `{"AuthTokenCookieSameSite":"Strict","ChallengeCount":1,
		"CaptchaSiteKey":"site-key","CaptchaSiteSecret":"`+captchaSecret+`","WhiteListKeywords":"'-","XssKeywords":"onload"}`)
	e.put(admin, "challenges", `{"Challenge":[
		{"ChallengeCode":"any","ChallengeQuestion":"Who was your first teacher?","Active":true,"CanContainSpaces":true,"IsCaseSensitive":false,
		 "MinimumLength":2,"MaximumLength":40,"MinimumAlphaCount":1,"MaximumAlphaCount":30,"MinimumNumberCount":0,"MaximumNumberCount":4,
		 "MinimumUpperCaseLetterCount":1,"MinimumSpecialCharacterCount":0},
		{"ChallengeCode":"none","ChallengeQuestion":"Which street did you grow up on?","Active":false,"CanContainSpaces":false,"IsCaseSensitive":true,
		 "AllowedSpecialCharacters":{"AllowedSpecialCharacter":[]}},
		{"ChallengeCode":"some","ChallengeQuestion":"What is your grandmother's surname?","Active":true,"CanContainSpaces":true,"IsCaseSensitive":false,
		 "MinimumSpecialCharacterCount":1,"AllowedSpecialCharacters":{"AllowedSpecialCharacter":["'","-"]}}]}`)
	e.put(admin, "passwordpolicy", `{"MinimumLength":14,"MaximumLength":100,"MinimumAlphaCount":2,"MinimumNumberCount":1,
		"MinimumUpperCaseLetterCount":1,"MinimumSpecialCharacterCount":1,"AllowedSpecialCharacters":{"AllowedSpecialCharacter":["!","-"]},
		"CanContainSpaces":false,"KnownBadCheck":false,"HistoryCount":3}`)
	e.put(admin, "sessionpolicy", `{"MaximumSessions":4,"AtLimit":"RefuseNewLogin"}`)
	e.put(admin, "factorpolicy", `{"AllowRecoveryCodes":false,"EmailCodeFallback":true,"EnrolmentGraceDays":30,"WebAuthnUserVerification":"required"}`)
	c.open("")
	c.logIn("admin@acme.example", false)
	for _, tab := range []string{"loginpolicy", "twofasettings", "securitysettings", "passwordpolicy", "sessionpolicy", "factorpolicy", "challenges"} {
		resource := tab
		if tab == "challenges" {
			resource += "?IncludeInactive=true"
		}
		before := compact(t, e.get(admin, resource))
		c.goTo(tab)
		c.save()
		if after := compact(t, e.get(admin, resource)); after != before {
			t.Errorf("%s: a Save without change turned\n%s\ninto\n%s", tab, before, after)
		}
	}
}
