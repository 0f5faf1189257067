package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/bizsec/bizsec/internal/fault"
	"github.com/bizsec/bizsec/internal/login"
)

// factorJSON is a factor as user factors -o json prints it: never a secret.
type factorJSON struct {
	ID       string     `json:"id"`
	Type     string     `json:"type"`
	Name     string     `json:"name"`
	Active   bool       `json:"active"`
	Created  time.Time  `json:"created"`
	LastUsed *time.Time `json:"lastUsed,omitempty"`
}

type factorsJSON struct {
	Factors           []factorJSON `json:"factors"`
	RecoveryCodesLeft int          `json:"recoveryCodesLeft"`
}

// userFactors lists a user's second factors, or removes one (-remove ID)
// for the locked-out case: the removal is audited as done by "cli", ends
// the user's sessions and forgets their remembered devices.
func userFactors(ctx context.Context, args []string, stdout io.Writer) error {
	fs, db, tenant, email := userFlags("user factors")
	remove := fs.String("remove", "", "ID of the factor to remove (from the list)")
	output := addOutputFlag(fs)
	st, u, err := openUser(ctx, fs, db, tenant, email, args, stdout)
	if err != nil {
		return err
	}
	defer st.Close()
	svc := login.New(login.Config{Store: st})
	if *remove != "" {
		err := svc.RemoveFactorAs(ctx, u, *remove, "cli")
		if fault.CodeOf(err) == fault.NotFound {
			return refused("user %s has no factor %s", u.Email, *remove)
		}
		if err != nil {
			return storeError(err)
		}
		fmt.Fprintf(stdout, "factor %s of %s removed; their sessions have ended\n", *remove, u.Email)
		return nil
	}
	list, left, err := svc.Factors(ctx, u)
	if err != nil {
		return storeError(err)
	}
	out := factorsJSON{Factors: []factorJSON{}, RecoveryCodesLeft: left}
	for _, f := range list {
		j := factorJSON{ID: f.ID, Type: f.Kind, Name: f.Name, Active: f.Active, Created: f.CreatedAt.UTC()}
		if !f.LastUsedAt.IsZero() {
			used := f.LastUsedAt.UTC()
			j.LastUsed = &used
		}
		out.Factors = append(out.Factors, j)
	}
	if *output == "json" {
		return writeJSON(stdout, out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTYPE\tNAME\tSTATE\tCREATED\tLAST USED")
	for _, f := range out.Factors {
		state, used := "active", "-"
		if !f.Active {
			state = "waiting for confirmation"
		}
		if f.LastUsed != nil {
			used = f.LastUsed.Format("2006-01-02 15:04 MST")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.ID, f.Type, f.Name, state, f.Created.Format("2006-01-02 15:04 MST"), used)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "recovery codes left: %d\n", left)
	return err
}
