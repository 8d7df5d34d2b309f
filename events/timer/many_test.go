package timer_test

import (
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/events/timer"
)

func TestRun_manyTimersFireOnceAndOnTime(t *testing.T) {
	t.Parallel()
	e := newEnv(t, natstest.SharedURL(t), timer.Config{})
	rec := newRecorder()
	e.run(t, "many", rec.handle)

	const (
		n      = 2000
		spread = 3 * time.Second
	)
	// Schedule with a few callers at once, in due order; a timer whose Schedule returned after
	// its due time (a slow machine) still has to fire once, but says nothing about lateness.
	first := time.Now().Add(2 * time.Second)
	dues := make([]time.Time, n)
	scheduledLate := make([]bool, n)
	var (
		wg   sync.WaitGroup
		next = make(chan int)
	)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				if err := e.s.Schedule(t.Context(), "many", "t"+strconv.Itoa(i), dues[i], []byte(strconv.Itoa(i))); err != nil {
					t.Errorf("Schedule(%d): %v", i, err)
				}
				scheduledLate[i] = time.Now().After(dues[i])
			}
		})
	}
	for i := range n {
		dues[i] = first.Add(spread * time.Duration(i) / n)
		next <- i
	}
	close(next)
	wg.Wait()

	eventually(t, spread+30*time.Second, "every timer to fire", func() bool {
		return rec.keys() == n && e.stored(t, "many") == 0
	})
	var late []time.Duration
	skipped := 0
	for i := range n {
		key := "t" + strconv.Itoa(i)
		checkFiredOnce(t, rec, "many", key, dues[i], []byte(strconv.Itoa(i)), 0)
		if scheduledLate[i] {
			skipped++
			continue
		}
		if c := rec.of(key); len(c) > 0 {
			late = append(late, c[0].now.Sub(dues[i]))
		}
	}
	p := percentiles(late)
	t.Logf("%d timers over %s: lateness p50 %s, p99 %s, max %s (%d scheduled after their due time left out)",
		n, spread, p.P50, p.P99, p.Max, skipped)
	if skipped > n/10 {
		t.Errorf("%d of %d timers were scheduled after their due time; the machine is too slow for this test", skipped, n)
	}
	if p.Max > time.Second {
		t.Errorf("a timer fired %s after its due time; want within 1s", p.Max)
	}
}

func TestMeasurePrecision(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, "")
	js, err := jetstream.New(natstest.Connect(t, srv.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	p, err := timer.MeasurePrecision(t.Context(), js, 300, time.Second)
	if err != nil {
		t.Fatalf("MeasurePrecision: %v (%+v)", err, p)
	}
	t.Logf("300 timers over 1s: %+v", p)
	if p.Fired != 300 || p.Early != 0 || p.Duplicates != 0 {
		t.Errorf("precision = %+v; want 300 fired, none early or twice", p)
	}
	if p.P50 <= 0 || p.P50 > p.P99 || p.P99 > p.Max || p.Max > time.Second {
		t.Errorf("precision = %+v; want 0 < p50 <= p99 <= max <= 1s", p)
	}
	// It leaves no consumer and no timer behind.
	st, err := js.Stream(t.Context(), timer.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 || info.State.Consumers != 0 {
		t.Errorf("left behind %d messages and %d consumers", info.State.Msgs, info.State.Consumers)
	}
}

func percentiles(d []time.Duration) timer.Precision {
	if len(d) == 0 {
		return timer.Precision{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return timer.Precision{P50: s[len(s)/2], P99: s[min(len(s)*99/100, len(s)-1)], Max: s[len(s)-1], Fired: len(s)}
}
