package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// answersFor are the dev user's answers to the sample's questions.
var answersFor = map[string]string{
	"com.soa.challenge.question.city.birth": "New York",
	"com.soa.challenge.question.color":      "Blue",
	"17":                                    "J",
}

func answersBody(userID string, answers map[string]string) string {
	var list []map[string]string
	for code, a := range answers {
		list = append(list, map[string]string{"UserID": userID, "ChallengeCode": code, "Answer": a})
	}
	b, _ := json.Marshal(map[string]any{"UserIdentificationChallenge": list})
	return string(b)
}

// TestUserChallenges sets a user's answers: constraints, ChallengeCount,
// who may set them, and how they are stored.
func TestUserChallenges(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	e.put(admin, "challenges", sample(t, "challenges-put.request.json"))
	dev := e.login("dev@acme.example")
	devID := e.users["dev@acme.example"]
	path := "/api/users/" + devID + "/challenges"
	ctx := context.Background()

	bad := []struct {
		name    string
		answers map[string]string
		want    string
	}{
		{"breaks a constraint", map[string]string{"com.soa.challenge.question.city.birth": "Paris", "com.soa.challenge.question.color": "Blue", "17": "Jo"}, "at most 1 characters"},
		{"too few", map[string]string{"com.soa.challenge.question.city.birth": "Paris", "com.soa.challenge.question.color": "Blue"}, "3 security questions must be answered"},
		{"same answer twice", map[string]string{"com.soa.challenge.question.city.birth": "Blue", "com.soa.challenge.question.color": "blue", "17": "J"}, "same answer"},
		{"unknown question", map[string]string{"com.soa.challenge.question.city.birth": "Paris", "nope": "x", "17": "J"}, "not an active"},
	}
	for _, c := range bad {
		r := e.do(call{method: "PUT", path: path, as: dev, body: answersBody(devID, c.answers)})
		if _, msg := r.fault(); r.status != 400 || !strings.Contains(msg, c.want) {
			t.Errorf("%s: %d %s", c.name, r.status, r.body)
		}
	}
	if stored, _ := e.store.Answers(ctx, devID); len(stored) != 0 {
		t.Fatalf("bad answers were stored: %v", stored)
	}
	if r := e.do(call{method: "PUT", path: path, as: dev, body: answersBody("someone-else", answersFor)}); r.status != 400 {
		t.Errorf("UserID not matching the path: %d", r.status)
	}
	r := e.do(call{method: "PUT", path: path, as: dev, body: answersBody(devID, answersFor)})
	if r.status != 200 || strings.Contains(string(r.body), "Answer") || !strings.Contains(string(r.body), "What is your favorite color?") {
		t.Fatalf("PUT own answers: %d %s", r.status, r.body)
	}
	if got := e.do(call{method: "GET", path: path, as: dev}); got.status != 200 || compact(t, got.body) != compact(t, r.body) {
		t.Errorf("GET answers: %d %s", got.status, got.body)
	}
	stored, err := e.store.Answers(ctx, devID)
	if err != nil || len(stored) != 3 {
		t.Fatalf("stored %v %v", stored, err)
	}
	for _, a := range stored {
		if !strings.HasPrefix(a.Answer, "$argon2id$") {
			t.Errorf("answer to %s stored as %q, want an argon2id hash", a.ChallengeCode, a.Answer)
		}
	}
	// Who may set answers: the user, a Site Admin; not another user.
	auditor := e.login("auditor@acme.example")
	if r := e.do(call{method: "PUT", path: path, as: auditor, body: answersBody(devID, answersFor)}); r.status != 403 {
		t.Errorf("another user: %d", r.status)
	}
	if r := e.do(call{method: "GET", path: path}); r.status != 401 {
		t.Errorf("no login: %d", r.status)
	}
	// EncryptChallengeAnswers: sealed with the server's key, never in clear.
	e.put(admin, "securitysettings", `{"EncryptChallengeAnswers":"com.soa.feature.enabled"}`)
	if r := e.do(call{method: "PUT", path: path, as: admin, body: answersBody(devID, answersFor)}); r.status != 200 {
		t.Fatalf("admin sets answers: %d %s", r.status, r.body)
	}
	stored, _ = e.store.Answers(ctx, devID)
	for _, a := range stored {
		plain, err := e.box.Open(a.Answer)
		if err != nil || plain != strings.ToLower(answersFor[a.ChallengeCode]) {
			t.Errorf("sealed answer to %s opens to %q, %v", a.ChallengeCode, plain, err)
		}
	}
	e.stop()
	if e.storedInClear("new york") {
		t.Error("an answer is in the database in clear")
	}
}

var resetCodePattern = regexp.MustCompile(`reset code is (\S+)`)

// TestPasswordReset runs the reset flow: mailed code, a question, wrong
// answers counting toward suspension, and the new password.
func TestPasswordReset(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@acme.example")
	e.put(admin, "challenges", sample(t, "challenges-put.request.json"))
	e.put(admin, "loginpolicy", `{"MaxSequentialFailureAttemptsAllowed":"3","SuspensionMinutes":"10"}`)
	devID := e.users["dev@acme.example"]
	dev := e.login("dev@acme.example")
	if r := e.do(call{method: "PUT", path: "/api/users/" + devID + "/challenges", as: dev, body: answersBody(devID, answersFor)}); r.status != 200 {
		t.Fatal(r.status)
	}
	const email = "dev@acme.example"
	sendCode := func() string {
		t.Helper()
		if r := e.do(call{method: "POST", path: "/api/passwordmanagement/sendPasswordResetCode?emailAddress=" + email}); r.status != 200 {
			t.Fatalf("send code: %d %s", r.status, r.body)
		}
		msgs := e.smtp.Messages()
		m := resetCodePattern.FindStringSubmatch(msgs[len(msgs)-1].Data)
		if m == nil || msgs[len(msgs)-1].To != email {
			t.Fatalf("no reset code mailed: %+v", msgs[len(msgs)-1])
		}
		return m[1]
	}
	type resp struct {
		Status                      string
		UserIdentificationChallenge *struct{ ChallengeCode string }
	}
	validate := func(code string) (int, resp) {
		r := e.do(call{method: "POST", path: "/api/passwordmanagement/validatePasswordResetCode?emailAddress=" + email +
			"&passwordResetCode=" + url.QueryEscape(code)})
		var out resp
		json.Unmarshal(r.body, &out)
		return r.status, out
	}
	reset := func(code, challenge, answer, newPassword string) (int, resp) {
		body, _ := json.Marshal(map[string]any{"Email": email, "PasswordResetCode": code, "NewPassword": newPassword,
			"UserIdentificationChallenge": map[string]string{"UserID": devID, "ChallengeCode": challenge, "Answer": answer}})
		r := e.do(call{method: "POST", path: "/api/login/authenticateWithPasswordResetCode", body: string(body)})
		var out resp
		json.Unmarshal(r.body, &out)
		return r.status, out
	}

	code := sendCode()
	if status, _ := validate("not-the-code"); status != 401 {
		t.Errorf("wrong reset code: %d", status)
	}
	status, v := validate(code)
	if status != 200 || v.Status != "user.password.reset.code.valid" || v.UserIdentificationChallenge == nil {
		t.Fatalf("validate: %d %+v", status, v)
	}
	asked := v.UserIdentificationChallenge.ChallengeCode
	// Two wrong answers: each is met by another question; the third suspends.
	for i := range 2 {
		status, v = reset(code, asked, "wrong answer", "a new password")
		if status != 200 || v.Status != "user.password.reset.invalid.answer" || v.UserIdentificationChallenge == nil {
			t.Fatalf("wrong answer %d: %d %+v", i+1, status, v)
		}
		asked = v.UserIdentificationChallenge.ChallengeCode
	}
	if status, _ := reset(code, asked, "wrong answer", "a new password"); status != 401 {
		t.Fatalf("third wrong answer: %d, want 401 suspended", status)
	}
	if r := e.tryLogin(email, password); r.status != 401 {
		t.Errorf("login after wrong answers suspended the account: %d", r.status)
	}
	e.clock.Advance(10 * time.Minute)
	if status, _ := reset(code, asked, answersFor[asked], "a new password"); status != 401 {
		t.Errorf("the reset code survived the suspension: %d", status)
	}

	code = sendCode()
	_, v = validate(code)
	asked = v.UserIdentificationChallenge.ChallengeCode
	if status, _ := reset(code, asked, answersFor[asked], "short"); status != 400 {
		t.Errorf("short new password: %d", status)
	}
	// The answer is compared as the question says: here case-insensitively, spaces collapsed.
	status, v = reset(code, asked, " "+strings.ToUpper(answersFor[asked])+" ", "a brand new password")
	if status != 200 || v.Status != "user.password.reset.valid.answer" {
		t.Fatalf("right answer: %d %+v", status, v)
	}
	if r := e.tryLogin(email, password); r.status != 401 {
		t.Errorf("old password still works: %d", r.status)
	}
	if r := e.tryLogin(email, "a brand new password"); r.status != 200 {
		t.Errorf("new password: %d %s", r.status, r.body)
	}
	if e.do(call{method: "GET", path: "/api/users/" + devID + "/challenges", as: dev}).status != 401 {
		t.Error("a session from before the reset still works")
	}
	if status, _ := reset(code, asked, answersFor[asked], "another password"); status != 401 {
		t.Errorf("reset code used twice: %d", status)
	}

	// AllowUserEnum: an unknown email is told apart only when enumeration is allowed.
	unknown := func() int {
		return e.do(call{method: "POST", path: "/api/passwordmanagement/sendPasswordResetCode?emailAddress=nobody@acme.example"}).status
	}
	if got := unknown(); got != http.StatusUnauthorized {
		t.Errorf("unknown email, AllowUserEnum enabled: %d", got)
	}
	e.put(e.login("admin@acme.example"), "securitysettings", `{"AllowUserEnum":"com.soa.feature.disabled"}`)
	if got := unknown(); got != http.StatusOK {
		t.Errorf("unknown email, AllowUserEnum disabled: %d, want 200 like a known one", got)
	}
	// A known email is answered the same way, and its code is mailed after.
	before := len(e.smtp.Messages())
	if r := e.do(call{method: "POST", path: "/api/passwordmanagement/sendPasswordResetCode?emailAddress=" + email}); r.status != http.StatusOK || len(r.body) != 0 {
		t.Errorf("known email, AllowUserEnum disabled: %d %s", r.status, r.body)
	}
	for deadline := time.Now().Add(5 * time.Second); len(e.smtp.Messages()) == before; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no reset code was mailed to the known email")
		}
	}
	msgs := e.smtp.Messages()
	code = resetCodePattern.FindStringSubmatch(msgs[len(msgs)-1].Data)[1]
	if status, _ := validate(code); status != 200 {
		t.Errorf("the code mailed after the answer does not validate: %d", status)
	}
}
