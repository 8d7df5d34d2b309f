package service_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/alerts/inbound/consumers"
	"github.com/reboundhq/rebound/services/alerts/service"
)

// BenchmarkService_failures measures failures per second from stored reports to stored alerts
// (and grace timers): b.N reports of distinct records on 10 records per connection (no outage)
// are stored first, then a service starts and handles them all.
func BenchmarkService_failures(b *testing.B) {
	e := newEnv(b)
	now := time.Now().UTC()
	var wg sync.WaitGroup
	next := make(chan int)
	for range 32 {
		wg.Go(func() {
			for i := range next {
				ref := e.record(fmt.Sprintf("c-%d", i/10), fmt.Sprintf("r-%d", i))
				if _, err := e.in.Report(b.Context(), unavailable(ref, "a1", now), events.Metadata{}); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for i := range b.N {
		next <- i
	}
	close(next)
	wg.Wait()
	b.ResetTimer()
	start := time.Now()
	e.start(service.Config{})
	e.settled(consumers.RecordsHandler)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "failures/s")
}
