package main

import (
	"context"
	"fmt"
	"io"

	"github.com/bizsec/bizsec/internal/auth"
	"github.com/bizsec/bizsec/internal/login"
)

// cliSession stands for the CLI in the login service's account operations:
// recorded in the audit history as done by "cli", never one of the user's
// sessions.
var cliSession = auth.Session{UserID: "cli"}

// userSessions lists a user's live sessions, or ends them all (-end).
func userSessions(ctx context.Context, args []string, stdout io.Writer) error {
	fs, db, tenant, email := userFlags("user sessions")
	end := fs.Bool("end", false, "end every live session of the user, on every instance within a second")
	output := addOutputFlag(fs)
	st, u, err := openUser(ctx, fs, db, tenant, email, args, stdout)
	if err != nil {
		return err
	}
	defer st.Close()
	svc := login.New(login.Config{Store: st})
	if *end {
		n, err := svc.EndSessions(ctx, cliSession, u)
		if err != nil {
			return storeError(err)
		}
		fmt.Fprintf(stdout, "%d sessions of %s ended\n", n, u.Email)
		return nil
	}
	list, err := svc.Sessions(ctx, cliSession, u)
	if err != nil {
		return storeError(err)
	}
	if *output == "json" {
		return writeJSON(stdout, list)
	}
	for _, v := range list {
		fmt.Fprintf(stdout, "%s  created %s  last used %s  from %s  %s  %s\n", v.SessionID, v.Created.UTC().Format("2006-01-02 15:04Z"),
			v.LastUsed.UTC().Format("2006-01-02 15:04Z"), v.ClientAddr, v.Method, v.UserAgent)
	}
	if len(list) == 0 {
		fmt.Fprintf(stdout, "%s has no live session\n", u.Email)
	}
	return nil
}

// disableUser disables a user (their sessions end at once) or enables them.
func disableUser(disabled bool) func(context.Context, []string, io.Writer) error {
	name := map[bool]string{true: "user disable", false: "user enable"}[disabled]
	return func(ctx context.Context, args []string, stdout io.Writer) error {
		fs, db, tenant, email := userFlags(name)
		st, u, err := openUser(ctx, fs, db, tenant, email, args, stdout)
		if err != nil {
			return err
		}
		defer st.Close()
		if err := login.New(login.Config{Store: st}).SetDisabled(ctx, cliSession, u, disabled); err != nil {
			return storeError(err)
		}
		fmt.Fprintf(stdout, "user %s %s\n", u.Email, map[bool]string{true: "disabled; their sessions have ended", false: "enabled"}[disabled])
		return nil
	}
}
