package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/natsstore"
	"github.com/reboundhq/rebound/projections"
	"github.com/reboundhq/rebound/rpc/server"
)

const projectionsArgs = "status [--json] | rebuild <name>"

func init() {
	register(command{
		name: "projections", args: projectionsArgs,
		summary: "where each read model stands (checkpoint, lag, errors), or rebuild one from the first event",
		run: func(ctx context.Context, env *environment, args []string) error {
			return subcommand(ctx, env, "projections", args, map[string]func(context.Context, *environment, []string) error{
				"status":  runProjectionsStatus,
				"rebuild": runProjectionsRebuild,
			})
		},
	})
}

// projectionsFlags are what the projections commands connect to: the event store and the read
// models of the running Rebound.
type projectionsFlags struct {
	nats       natsFlags
	readModels readModelFlags
}

func (p *projectionsFlags) define(fs *flagSet) {
	p.nats.define(fs)
	p.readModels.define(fs)
}

// opsRunner is a projections runner over the running Rebound's store and read models, for
// `projections rebuild`: it never runs the projections itself.
type opsRunner struct {
	runner *projections.Runner
	store  *natsstore.Store
	db     *projections.DB
	close  func()
}

func (p *projectionsFlags) runner(ctx context.Context, name string, create bool) (*opsRunner, error) {
	db, err := p.readModels.open(ctx, create)
	if err != nil {
		return nil, err
	}
	store, nc, err := p.nats.openStore(ctx, name)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	r, err := projections.NewRunner(db, store, projections.Config{}, allProjections()...)
	if err != nil {
		_ = db.Close()
		nc.Close()
		return nil, err
	}
	return &opsRunner{runner: r, store: store, db: db, close: func() { _ = db.Close(); nc.Close() }}, nil
}

// projectionNames lists the read models a process keeps.
func projectionNames() []string {
	var names []string
	for _, p := range allProjections() {
		names = append(names, p.Name())
	}
	return names
}

const projectionsRebuildArgs = "<name>"

// runProjectionsRebuild rebuilds one read model from the first event and swaps it in. It is safe
// while Rebound runs: a lease in the database keeps rebuilds apart, and the live runner skips
// what the swap applied.
func runProjectionsRebuild(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "projections rebuild", projectionsRebuildArgs)
	var pf projectionsFlags
	pf.define(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	names := projectionNames()
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: projections rebuild: name one read model (%s)", errUsage, strings.Join(names, ", "))
	}
	name := fs.Arg(0)
	known := false
	for _, n := range names {
		known = known || n == name
	}
	if !known {
		return fmt.Errorf("%w: projections rebuild: unknown read model %q (want one of %s)", errUsage, name, strings.Join(names, ", "))
	}
	r, err := pf.runner(ctx, "rebound-projections-rebuild", true)
	if err != nil {
		return err
	}
	defer r.close()
	fmt.Fprintf(env.stderr, "rebuilding %s in %s from the first event of %s (Ctrl-C stops it; the live tables stay as they are)\n", name, r.db, r.store.StreamName())
	err = r.runner.Rebuild(ctx, name, env.stderr)
	switch {
	case errors.Is(err, projections.ErrRebuildRunning):
		return fmt.Errorf("%s is being rebuilt by another process already; wait for it (`rebound projections status` shows it)", name)
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		fmt.Fprintf(env.stderr, "rebuild of %s stopped; the live tables were left as they were\n", name)
		return err
	case err != nil:
		return err
	}
	fmt.Fprintf(env.stdout, "rebuilt %s\n", name)
	return nil
}

// projectionStatusJSON is the --json form of one read model's status. Its field names are part
// of the ops interface.
type projectionStatusJSON struct {
	Name           string     `json:"name"`
	Checkpoint     uint64     `json:"checkpoint"`
	LastPosition   uint64     `json:"last_position"`
	Lag            uint64     `json:"lag"`
	Generation     int64      `json:"generation"`
	UpdatedAt      *time.Time `json:"updated_at,omitempty"`
	RebuildPending bool       `json:"rebuild_pending"`
	Rebuilding     bool       `json:"rebuilding"`
	RebuildLease   *time.Time `json:"rebuild_lease_until,omitempty"`
	// Service is what the running process's metrics say, when they answered.
	Service   *serviceProjectionJSON `json:"service,omitempty"`
	LastError string                 `json:"last_error,omitempty"`
}

// serviceProjectionJSON is one projection's figures from the running process's /metrics.
type serviceProjectionJSON struct {
	Errors     uint64 `json:"errors_total"`
	Lag        uint64 `json:"lag"`
	Rebuilding bool   `json:"rebuilding"`
}

// runProjectionsStatus prints each read model's checkpoint, its lag behind the store and what
// the running process reports (errors, its own lag) when its metrics answer.
func runProjectionsStatus(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "projections status", "[--json]")
	var pf projectionsFlags
	pf.define(fs)
	var httpAddr string
	fs.envString(&httpAddr, "http-addr", server.EnvHTTPAddr, server.DefaultHTTPAddr, "HTTP address of the running Rebound, whose /metrics count each read model's errors")
	asJSON := fs.Bool("json", false, "one JSON object per read model")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: projections status takes no arguments (got %q)", errUsage, fs.Args())
	}
	// Status only reads: it neither migrates the database under the running Rebound nor
	// takes part in its rebuilds.
	db, err := pf.readModels.open(ctx, false)
	if err != nil {
		return err
	}
	defer db.Close()
	states, err := readProjectionStates(ctx, db)
	if err != nil {
		return err
	}
	store, nc, err := pf.nats.openStore(ctx, "rebound-projections-status")
	if err != nil {
		return err
	}
	defer nc.Close()
	last, err := store.LastPosition(ctx)
	if err != nil {
		return err
	}
	service, serviceErr := scrapeProjectionMetrics(ctx, httpAddr)
	out := make([]projectionStatusJSON, 0, len(states))
	for _, p := range allProjections() {
		st := states[p.Name()]
		s := projectionStatusJSON{Name: p.Name(), Checkpoint: st.checkpoint, LastPosition: last, Generation: st.generation, RebuildPending: st.rebuildPending}
		if st.checkpoint > 0 && !st.updatedAt.IsZero() {
			t := st.updatedAt
			s.UpdatedAt = &t
		}
		if !st.leaseUntil.IsZero() {
			t := st.leaseUntil
			s.Rebuilding, s.RebuildLease = true, &t
		}
		lag, err := lagOf(ctx, store, st.checkpoint, last, p.Filters())
		if err != nil {
			s.LastError = err.Error()
		}
		s.Lag = lag
		if m, ok := service[p.Name()]; ok {
			s.Service = &m
			s.Rebuilding = s.Rebuilding || m.Rebuilding
		}
		out = append(out, s)
	}
	if *asJSON {
		for _, s := range out {
			line, err := json.Marshal(s)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "%s\n", line)
		}
		if serviceErr != nil {
			fmt.Fprintf(env.stderr, "service metrics: %v\n", serviceErr)
		}
		return nil
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "READ MODEL\tCHECKPOINT\tLAG\tGENERATION\tUPDATED\tREBUILD\tSERVICE ERRORS\tLAST ERROR")
	for _, s := range out {
		updated := "never"
		if s.UpdatedAt != nil {
			updated = s.UpdatedAt.Format("2006-01-02 15:04:05")
		}
		rebuild := "-"
		switch {
		case s.Rebuilding && s.RebuildLease != nil:
			rebuild = "running (lease until " + s.RebuildLease.Format("15:04:05") + ")"
		case s.Rebuilding:
			rebuild = "running"
		case s.RebuildPending:
			rebuild = "pending"
		}
		errs := "?"
		if s.Service != nil {
			errs = strconv.FormatUint(s.Service.Errors, 10)
		}
		lastErr := s.LastError
		if lastErr == "" {
			lastErr = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", s.Name, s.Checkpoint, s.Lag, s.Generation, updated, rebuild, errs, lastErr)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "event store %s at position %d; read models in %s\n", store.StreamName(), last, db)
	if serviceErr != nil {
		fmt.Fprintf(env.stdout, "service errors unknown: %v; the running Rebound logs each failure as \"projection failed; retrying\"\n", serviceErr)
	}
	return nil
}

// errProbeDone ends a lag probe at its first record.
var errProbeDone = errors.New("probe done")

// lagOf is how many store positions a read model is behind: 0 when no event it reads follows
// its checkpoint (the store's newest events may be ones it skips), otherwise the store's last
// position minus its checkpoint. The same measure as rebound_projection_lag_events.
func lagOf(ctx context.Context, store events.Store, checkpoint, last uint64, filters []string) (uint64, error) {
	if last <= checkpoint {
		return 0, nil
	}
	found := false
	err := store.Read(ctx, events.ReadOptions{From: checkpoint + 1, Filters: filters}, func(context.Context, events.Record) error {
		found = true
		return errProbeDone
	})
	if err != nil && !errors.Is(err, errProbeDone) {
		return last - checkpoint, fmt.Errorf("measuring the lag: %w", err)
	}
	if !found {
		return 0, nil
	}
	return last - checkpoint, nil
}

// projectionState is a read model's row in the runtime's projection_state table.
type projectionState struct {
	checkpoint     uint64
	generation     int64
	rebuildPending bool
	updatedAt      time.Time
	// leaseUntil is when the lease of a running rebuild ends; zero when none runs.
	leaseUntil time.Time
}

// readProjectionStates reads the projections runtime's own table (projection_state, a persisted
// name), without migrating anything. A read model that has no row yet has the zero state.
func readProjectionStates(ctx context.Context, db *projections.DB) (map[string]projectionState, error) {
	rows, err := db.Query(ctx, `SELECT name, position, generation, rebuild_pending, rebuild_owner, rebuild_lease, updated_at FROM projection_state`)
	if err != nil {
		return nil, fmt.Errorf("reading the read models' state in %s (has Rebound run its projections there?): %w", db, err)
	}
	defer rows.Close()
	out := map[string]projectionState{}
	now := time.Now()
	for rows.Next() {
		var (
			name, owner                           string
			pos, gen, pending, lease, updatedNano int64
		)
		if err := rows.Scan(&name, &pos, &gen, &pending, &owner, &lease, &updatedNano); err != nil {
			return nil, fmt.Errorf("reading the read models' state in %s: %w", db, err)
		}
		st := projectionState{checkpoint: uint64(pos), generation: gen, rebuildPending: pending != 0, updatedAt: time.Unix(0, updatedNano).UTC()}
		if until := time.Unix(0, lease).UTC(); owner != "" && until.After(now) {
			st.leaseUntil = until
		}
		out[name] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the read models' state in %s: %w", db, err)
	}
	return out, nil
}

// scrapeProjectionMetrics reads the running process's rebound_projection_* figures from its
// /metrics, per projection.
func scrapeProjectionMetrics(ctx context.Context, httpAddr string) (map[string]serviceProjectionJSON, error) {
	url := httpAddr
	if !strings.Contains(url, "://") {
		url = "http://" + url
	}
	url = strings.TrimSuffix(url, "/") + "/metrics"
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("REBOUND_HTTP_ADDR: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("no answer from %s (is Rebound running there? REBOUND_HTTP_ADDR)", url)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return parseProjectionMetrics(resp.Body)
}

// parseProjectionMetrics reads the projection figures from Prometheus text exposition.
func parseProjectionMetrics(r io.Reader) (map[string]serviceProjectionJSON, error) {
	out := map[string]serviceProjectionJSON{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		name, rest, ok := strings.Cut(line, `{projection="`)
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		proj, rest, ok := strings.Cut(rest, `"}`)
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			continue
		}
		m := out[proj]
		switch name {
		case "rebound_projection_errors_total":
			m.Errors = uint64(v)
		case "rebound_projection_lag_events":
			m.Lag = uint64(v)
		case "rebound_projection_rebuilding":
			m.Rebuilding = v != 0
		default:
			continue
		}
		out[proj] = m
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("the metrics there have no rebound_projection_* figures (does that process run the projections?)")
	}
	return out, nil
}
