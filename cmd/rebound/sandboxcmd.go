package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"syscall"
	"time"

	"github.com/reboundhq/rebound/services/orders/sandbox"
)

func init() {
	register(command{
		name: "sandbox", args: "[run] | fail <mode> [--connection ID] [--probability P] [--retry-after D] [--delay D] [--times N] | clear [--connection ID] | status [--json]",
		summary: "run the sandbox cart and WMS, or switch their failure modes at run time",
		run:     runSandbox,
	})
}

func runSandbox(ctx context.Context, env *environment, args []string) error {
	sub := "run"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		sub, args = args[0], args[1:]
	}
	fs := newFlagSet(env, "sandbox "+sub, "[flags]")
	var wmsAddr, cartAddr string
	fs.envString(&wmsAddr, "wms-addr", "REBOUND_SANDBOX_WMS_ADDR", "127.0.0.1:8091", "sandbox WMS address")
	fs.envString(&cartAddr, "cart-addr", "REBOUND_SANDBOX_CART_ADDR", "127.0.0.1:8092", "sandbox cart address")
	system := fs.String("system", "wms", "fail/clear/status: which server, wms or cart")
	connection := fs.String("connection", sandbox.AllConnections, "fail/clear: the connection id, or * for every connection")
	probability := fs.Float64("probability", 0, "fail flaky: the chance a request fails (0 < p <= 1)")
	retryAfter := fs.Duration("retry-after", 0, "fail http-429: the Retry-After sent")
	delay := fs.Duration("delay", 0, "fail slow: how long answers are held")
	times := fs.Int("times", 0, "fail: only the next N requests (0: until cleared)")
	asJSON := fs.Bool("json", false, "status: print JSON")
	var logs logFlags
	logs.define(fs, "text")
	if err := fs.parse(args); err != nil {
		return err
	}
	if sub == "run" {
		log, err := logs.logger(env.stderr)
		if err != nil {
			return err
		}
		sb, err := sandbox.Listen(sandbox.Config{WMSAddr: wmsAddr, CartAddr: cartAddr}, log)
		if err != nil {
			return fmt.Errorf("%w (set REBOUND_SANDBOX_WMS_ADDR / REBOUND_SANDBOX_CART_ADDR)", err)
		}
		fmt.Fprintf(env.stdout, "sandbox WMS %s, cart %s; admin API under /admin/ of each (Ctrl-C stops)\n", sb.WMSURL(), sb.CartURL())
		return sb.Run(ctx)
	}
	root := "http://" + wmsAddr
	switch *system {
	case "wms":
	case "cart":
		root = "http://" + cartAddr
	default:
		return fmt.Errorf("%w: --system is wms or cart, not %q", errUsage, *system)
	}
	admin := sandbox.NewAdminClient(root, &http.Client{Timeout: 10 * time.Second})
	err := sandboxAdmin(ctx, env, admin, sub, root, *system, *connection, fs.Args(), sandbox.Failure{
		Probability: *probability, RetryAfter: sandbox.Duration(*retryAfter), Delay: sandbox.Duration(*delay), Times: *times}, *asJSON)
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%w (is the sandbox running: `rebound dev` or `rebound sandbox`? REBOUND_SANDBOX_WMS_ADDR / REBOUND_SANDBOX_CART_ADDR say where)", err)
	}
	return err
}

func sandboxAdmin(ctx context.Context, env *environment, admin *sandbox.AdminClient, sub, root, system, connection string,
	args []string, params sandbox.Failure, asJSON bool) error {
	switch sub {
	case "fail":
		if len(args) != 1 {
			return fmt.Errorf("%w: name a mode (%v)", errUsage, sandbox.Modes())
		}
		mode, err := sandbox.ParseMode(args[0])
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		params.Mode = mode
		f, err := admin.SetFailure(ctx, connection, params)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "%s connection %s: %s\n", system, connection, describeFailure(f))
		return nil
	case "clear":
		var err error
		if connection == sandbox.AllConnections {
			err = admin.ClearFailures(ctx)
		} else {
			err = admin.ClearFailure(ctx, connection)
		}
		if err == nil {
			fmt.Fprintf(env.stdout, "%s connection %s answers normally\n", system, connection)
		}
		return err
	case "status":
		failures, err := admin.Failures(ctx)
		if err != nil {
			return err
		}
		stats, err := admin.Stats(ctx)
		if err != nil {
			return err
		}
		if asJSON {
			b, _ := json.Marshal(map[string]any{"system": system, "failures": failures, "stats": stats})
			fmt.Fprintln(env.stdout, string(b))
			return nil
		}
		fmt.Fprintf(env.stdout, "%s %s: %d requests, %d created, %d duplicates\n", system, root, stats.Requests, stats.Created, stats.Duplicates)
		fmt.Fprintf(env.stdout, "  every connection (default): %s\n", describeFailure(failures.Default))
		conns := make([]string, 0, len(failures.Connections))
		for c := range failures.Connections {
			conns = append(conns, c)
		}
		sort.Strings(conns)
		for _, c := range conns {
			fmt.Fprintf(env.stdout, "  %s: %s\n", c, describeFailure(failures.Connections[c]))
		}
		return nil
	}
	return fmt.Errorf("%w: unknown sandbox command %q", errUsage, sub)
}

func describeFailure(f sandbox.Failure) string {
	s := string(f.Mode)
	if s == "" {
		s = string(sandbox.ModeNone)
	}
	if f.Probability > 0 {
		s += fmt.Sprintf(", probability %.2f", f.Probability)
	}
	if f.RetryAfter > 0 {
		s += fmt.Sprintf(", Retry-After %s", time.Duration(f.RetryAfter))
	}
	if f.Delay > 0 {
		s += fmt.Sprintf(", delay %s", time.Duration(f.Delay))
	}
	if f.Times > 0 {
		s += fmt.Sprintf(", next %d requests", f.Times)
	}
	return s
}
