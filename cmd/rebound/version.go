package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/nats-io/nats-server/v2/server"
)

// version is set at build time with -ldflags "-X main.version=..."; otherwise it comes from the
// module's build information.
var version = ""

func init() {
	register(command{name: "version", args: "[--json]", summary: "print the version of rebound and its parts", run: runVersion})
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		if v != "" {
			return v
		}
	}
	return "(devel)"
}

func runVersion(_ context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "version", "[--json]")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.parse(args); err != nil {
		return err
	}
	info := map[string]string{"rebound": buildVersion(), "go": runtime.Version(), "nats_server": server.VERSION}
	if *asJSON {
		b, _ := json.Marshal(info)
		_, err := fmt.Fprintln(env.stdout, string(b))
		return err
	}
	_, err := fmt.Fprintf(env.stdout, "rebound %s (%s, embedded nats-server %s)\n", info["rebound"], info["go"], info["nats_server"])
	return err
}
