package projectiontest_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/reboundhq/rebound/projections/projectiontest"
)

// recorder is a testing.TB that records how a helper ended the test.
type recorder struct {
	testing.TB
	fatal   string
	skipped string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Skip(args ...any) {
	r.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}

func run(t *testing.T, fn func(tb testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return r
}

// TestNewPostgres_unreachableServerFailsLoudly: a PostgreSQL test whose server is not there
// fails, naming the URL and the ways out; only REBOUND_SKIP_POSTGRES=1 skips it, and says so.
func TestNewPostgres_unreachableServerFailsLoudly(t *testing.T) {
	t.Setenv("REBOUND_POSTGRES_URL", "postgres://postgres:secret@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
	t.Setenv("REBOUND_SKIP_POSTGRES", "")
	r := run(t, func(tb testing.TB) { projectiontest.NewPostgres(tb) })
	for _, want := range []string{"127.0.0.1:1", "unreachable", "REBOUND_POSTGRES_URL", "REBOUND_SKIP_POSTGRES=1"} {
		if !strings.Contains(r.fatal, want) {
			t.Errorf("the failure does not mention %q:\n%s", want, r.fatal)
		}
	}
	if strings.Contains(r.fatal, "secret") {
		t.Errorf("the failure shows the password:\n%s", r.fatal)
	}
	t.Setenv("REBOUND_SKIP_POSTGRES", "1")
	r = run(t, func(tb testing.TB) { projectiontest.NewPostgres(tb) })
	if r.fatal != "" || !strings.Contains(r.skipped, "SKIPPED BY REQUEST") {
		t.Errorf("with REBOUND_SKIP_POSTGRES=1: fatal %q, skipped %q", r.fatal, r.skipped)
	}
}
