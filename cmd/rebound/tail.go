package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/reboundhq/rebound/events"
)

func init() {
	register(command{
		name: "tail", args: "[--json] [--from N] [subject filter ...]",
		summary: "follow new events as they are stored (default filter evt.>)",
		run:     runTail,
	})
}

func runTail(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "tail", "[--json] [--from N] [subject filter ...]")
	var nf natsFlags
	nf.define(fs)
	asJSON := fs.Bool("json", false, "one JSON object per line")
	from := fs.Uint64("from", 0, "start at this global position instead of at new events (1 = the first event)")
	if err := fs.parse(args); err != nil {
		return err
	}
	filters := fs.Args()
	for _, f := range filters {
		if err := events.ValidateFilter(f); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	store, nc, err := nf.openStore(ctx, "rebound-tail")
	if err != nil {
		return err
	}
	defer nc.Close()
	start := *from
	if start == 0 {
		last, err := store.LastPosition(ctx)
		if err != nil {
			return err
		}
		start = last + 1
	}
	fmt.Fprintf(env.stderr, "following %v from position %d on %s (Ctrl-C to stop)\n", filterList(filters), start, nf.clientURL())
	p := eventPrinter{w: env.stdout, json: *asJSON}
	err = store.Read(ctx, events.ReadOptions{From: start, Filters: filters, Follow: true},
		func(_ context.Context, r events.Record) error { return p.print(r) })
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return err
}

func filterList(filters []string) []string {
	if len(filters) == 0 {
		return []string{"evt.>"}
	}
	return filters
}
