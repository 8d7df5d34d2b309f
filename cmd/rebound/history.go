package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/reboundhq/rebound/events"
)

func init() {
	register(command{
		name: "history", args: "[--json] <aggregate> <account> <id>",
		summary: "print every event of one aggregate, oldest first",
		run:     runHistory,
	})
}

func runHistory(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "history", "[--json] <aggregate> <account> <id>")
	var nf natsFlags
	nf.define(fs)
	asJSON := fs.Bool("json", false, "one JSON object per line")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() != 3 {
		return fmt.Errorf("%w: want <aggregate> <account> <id>, got %d arguments", errUsage, fs.NArg())
	}
	stream := events.StreamID{AggregateType: fs.Arg(0), Account: fs.Arg(1), ID: fs.Arg(2)}
	if err := stream.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	store, nc, err := nf.openStore(ctx, "rebound-history")
	if err != nil {
		return err
	}
	defer nc.Close()
	loaded, err := store.Load(ctx, stream, 0)
	if errors.Is(err, events.ErrUnknownType) {
		return fmt.Errorf("%w (this rebound binary is older than the events; use a newer one)", err)
	}
	if errors.Is(err, events.ErrNotFound) {
		return fmt.Errorf("no events for %s", stream)
	}
	if err != nil {
		return err
	}
	p := eventPrinter{w: env.stdout, json: *asJSON}
	for _, r := range loaded.Events {
		if err := p.print(r); err != nil {
			return err
		}
	}
	if !*asJSON {
		fmt.Fprintf(env.stdout, "%d events; %s is at version %d\n", len(loaded.Events), stream, loaded.State.Version)
	}
	return nil
}
