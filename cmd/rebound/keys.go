package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/reboundhq/rebound/rpc/auth"
)

func init() {
	register(command{
		name: "keys", args: "create --scope merchant|warehouse|admin [--account ID] [--description TEXT] | list [--json] | revoke <key id>",
		summary: "manage API keys (stored hashed in the API_KEYS bucket)",
		run:     runKeys,
	})
}

func runKeys(ctx context.Context, env *environment, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want create, list or revoke", errUsage)
	}
	fs := newFlagSet(env, "keys "+args[0], "[flags]")
	var nf natsFlags
	nf.define(fs)
	scope := fs.String("scope", "", "create: merchant, warehouse or admin")
	account := fs.String("account", "", "create: the merchant or warehouse account the key covers")
	desc := fs.String("description", "", "create: what the key is for")
	asJSON := fs.Bool("json", false, "list: one JSON object per key")
	if err := fs.parse(args[1:]); err != nil {
		return err
	}
	nc, js, err := nf.connect("rebound-keys")
	if err != nil {
		return err
	}
	defer nc.Close()
	store, err := auth.NewKVStore(ctx, js, auth.KVConfig{})
	if err != nil {
		return err
	}
	switch args[0] {
	case "create":
		plain, k, err := auth.IssueKey(ctx, store, auth.Scope(*scope), *account, *desc)
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		fmt.Fprintf(env.stderr, "created key %s (%s %s); it is shown only now:\n", k.ID, k.Scope, k.Account)
		fmt.Fprintln(env.stdout, plain)
		return nil
	case "list":
		keys, err := store.List(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			for _, k := range keys {
				b, _ := json.Marshal(map[string]any{"id": k.ID, "scope": k.Scope, "account": k.Account,
					"description": k.Description, "created_at": k.CreatedAt, "revoked": k.Revoked()})
				fmt.Fprintln(env.stdout, string(b))
			}
			return nil
		}
		tw := tabwriter.NewWriter(env.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSCOPE\tACCOUNT\tCREATED\tREVOKED\tDESCRIPTION")
		for _, k := range keys {
			revoked := ""
			if k.Revoked() {
				revoked = k.RevokedAt.UTC().Format(time.DateTime)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Scope, k.Account, k.CreatedAt.UTC().Format(time.DateTime), revoked, k.Description)
		}
		return tw.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			return fmt.Errorf("%w: want the key id", errUsage)
		}
		if err := store.Revoke(ctx, fs.Arg(0), time.Now()); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "revoked %s\n", fs.Arg(0))
		return nil
	}
	return fmt.Errorf("%w: unknown keys command %q", errUsage, args[0])
}
