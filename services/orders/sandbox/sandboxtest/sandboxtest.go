// Package sandboxtest starts the sandbox cart and WMS for tests: real HTTP servers on
// 127.0.0.1 with free ports, stopped when the test ends.
package sandboxtest

import (
	"context"
	"testing"

	"github.com/reboundhq/rebound/services/orders/sandbox"
)

// Start runs a sandbox with cfg (its addresses default to 127.0.0.1:0 here, not to the fixed
// development ports) until the test ends, and returns it.
func Start(t testing.TB, cfg sandbox.Config) *sandbox.Sandbox {
	t.Helper()
	if cfg.WMSAddr == "" {
		cfg.WMSAddr = "127.0.0.1:0"
	}
	if cfg.CartAddr == "" {
		cfg.CartAddr = "127.0.0.1:0"
	}
	sb, err := sandbox.Listen(cfg, nil)
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sb.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sandbox: %v", err)
		}
	})
	return sb
}
