// Package natstest starts real, embedded NATS servers for tests. It never skips: a server that
// does not start fails the test.
package natstest

import (
	"os"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/reboundhq/rebound/events/natsserver"
)

// Server is an embedded server a test owns.
type Server struct {
	*natsserver.Server
	Dir string
}

// Start starts a server with JetStream in dir (t.TempDir() when dir is empty) on a free port and
// shuts it down when the test ends.
func Start(t testing.TB, dir string) *Server {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := natsserver.Start(natsserver.Config{DataDir: dir, Port: -1})
	if err != nil {
		t.Fatalf("starting the embedded NATS server: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return &Server{Server: s, Dir: dir}
}

// Connect connects to s and closes the connection when the test ends.
func Connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connecting to %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

var (
	sharedOnce   sync.Once
	sharedServer *natsserver.Server
	sharedDir    string
	sharedErr    error
)

// SharedURL returns the URL of one server shared by every test of the package binary, started on
// first use with its data in a temporary folder. Tests isolate themselves by unique ids.
func SharedURL(t testing.TB) string {
	t.Helper()
	sharedOnce.Do(func() {
		sharedDir, sharedErr = os.MkdirTemp("", "rebound-nats-")
		if sharedErr == nil {
			sharedServer, sharedErr = natsserver.Start(natsserver.Config{DataDir: sharedDir, Port: -1})
		}
	})
	if sharedErr != nil {
		t.Fatalf("starting the shared embedded NATS server: %v", sharedErr)
	}
	return sharedServer.ClientURL()
}

// Main runs a package's tests and then stops the shared server and removes its data. Call it
// from TestMain in packages that use SharedURL.
func Main(m *testing.M) {
	code := m.Run()
	if sharedServer != nil {
		sharedServer.Shutdown()
	}
	if sharedDir != "" {
		_ = os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}
