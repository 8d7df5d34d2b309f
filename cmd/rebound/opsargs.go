package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/reboundhq/rebound/projections"
)

// point is a point in the event history as ops name it: a global position (1 = the first event)
// or a time the store recorded events at.
type point struct {
	position uint64
	time     time.Time
}

// isTime reports whether the point is a time rather than a position.
func (p point) isTime() bool { return p.position == 0 }

func (p point) String() string {
	if p.isTime() {
		return p.time.UTC().Format(time.RFC3339Nano)
	}
	return "position " + strconv.FormatUint(p.position, 10)
}

// covers reports whether an event recorded at position pos and time at lies at or before p.
func (p point) covers(pos uint64, at time.Time) bool {
	if p.isTime() {
		return !at.After(p.time)
	}
	return pos <= p.position
}

// parsePoint reads a position (a positive number), an RFC 3339 time (fractions allowed) or
// "now". The error names the flag.
func parsePoint(flagName, s string, now time.Time) (point, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return point{}, fmt.Errorf("%w: --%s is empty; give a position (1, 2, ...) or an RFC 3339 time", errUsage, flagName)
	case s == "now":
		return point{time: now}, nil
	case s[0] >= '0' && s[0] <= '9' && !strings.ContainsAny(s, "-:T"):
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n == 0 {
			return point{}, fmt.Errorf("%w: --%s %q is not a position (1 is the first event)", errUsage, flagName, s)
		}
		return point{position: n}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return point{}, fmt.Errorf("%w: --%s %q is neither a position nor an RFC 3339 time (2026-03-02T09:00:00Z)", errUsage, flagName, s)
	}
	return point{time: t}, nil
}

// readModelFlags say where the process's read models are: the SQLite file in the data dir or
// PostgreSQL, as `rebound dev` and `rebound serve` keep them.
type readModelFlags struct {
	dataDir     string
	postgresURL string
}

func (r *readModelFlags) define(fs *flagSet) {
	fs.envString(&r.dataDir, "data-dir", "REBOUND_DATA_DIR", "./data", "the data dir of the running Rebound, which holds the read models' SQLite file")
	fs.envString(&r.postgresURL, "postgres-url", "REBOUND_POSTGRES_URL", "", "the read models' PostgreSQL database, when Rebound keeps them there")
}

// where names the database for messages.
func (r *readModelFlags) where() string {
	if r.postgresURL != "" {
		return "PostgreSQL at " + projections.Redact(r.postgresURL)
	}
	return filepath.Join(r.dataDir, projections.SQLiteFile)
}

// open opens the read models. Unless create is set, a SQLite file that does not exist is an
// error naming REBOUND_DATA_DIR instead of a new empty database.
func (r *readModelFlags) open(ctx context.Context, create bool) (*projections.DB, error) {
	if r.postgresURL == "" && !create {
		path := filepath.Join(r.dataDir, projections.SQLiteFile)
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no read models at %s: is REBOUND_DATA_DIR (%s) the data dir of the running Rebound, or does it keep them in REBOUND_POSTGRES_URL?", path, r.dataDir)
		}
	}
	db, err := projections.Open(ctx, projections.Storage{DataDir: r.dataDir, PostgresURL: r.postgresURL})
	if err != nil {
		if r.postgresURL != "" {
			return nil, fmt.Errorf("REBOUND_POSTGRES_URL: %w", err)
		}
		return nil, fmt.Errorf("REBOUND_DATA_DIR: %w", err)
	}
	return db, nil
}

// listFlag is a repeatable flag whose values may also be comma-separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// subcommand dispatches `rebound <name> <sub> ...` to the named subcommand.
func subcommand(ctx context.Context, env *environment, name string, args []string, subs map[string]func(context.Context, *environment, []string) error) error {
	names := make([]string, 0, len(subs))
	for n := range subs {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(args) == 0 {
		return fmt.Errorf("%w: name a subcommand: %s", errUsage, strings.Join(names, ", "))
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(env.stderr, "usage: rebound %s %s\n\n`rebound %s <subcommand> -h` lists a subcommand's flags.\n", name, commands[name].args, name)
		return nil
	}
	run, ok := subs[args[0]]
	if !ok {
		return fmt.Errorf("%w: unknown subcommand %q (want one of %s)", errUsage, args[0], strings.Join(names, ", "))
	}
	return run(ctx, env, args[1:])
}

// enumPrefix is the prefix every value name of a Rebound enum shares (ALERT_STATUS_ for
// AlertStatus): its zero value's name without UNSPECIFIED.
func enumPrefix(ed protoreflect.EnumDescriptor) string {
	if v := ed.Values().ByNumber(0); v != nil {
		return strings.TrimSuffix(string(v.Name()), "UNSPECIFIED")
	}
	return ""
}

// enumShort returns an enum value the way people type it: open, manual_action, order.
func enumShort(e protoreflect.Enum) string {
	v := e.Descriptor().Values().ByNumber(e.Number())
	if v == nil {
		return strconv.Itoa(int(e.Number()))
	}
	return strings.ToLower(strings.TrimPrefix(string(v.Name()), enumPrefix(e.Descriptor())))
}

// parseEnum reads an enum value by its short name (manual_action, manual-action) or its full
// name (ERROR_CLASS_MANUAL_ACTION); the unspecified value is not one.
func parseEnum(ed protoreflect.EnumDescriptor, s string) (protoreflect.EnumNumber, bool) {
	name := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), "-", "_"))
	prefix := enumPrefix(ed)
	if !strings.HasPrefix(name, prefix) {
		name = prefix + name
	}
	v := ed.Values().ByName(protoreflect.Name(name))
	if v == nil || v.Number() == 0 {
		return 0, false
	}
	return v.Number(), true
}

// enumChoices lists an enum's short names, for messages.
func enumChoices(ed protoreflect.EnumDescriptor) string {
	var names []string
	prefix := enumPrefix(ed)
	for i := range ed.Values().Len() {
		if v := ed.Values().Get(i); v.Number() != 0 {
			names = append(names, strings.ToLower(strings.TrimPrefix(string(v.Name()), prefix)))
		}
	}
	return strings.Join(names, ", ")
}
