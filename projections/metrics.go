package projections

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the runtime's metrics. Their names and labels are public (dashboards use them).
type metrics struct {
	checkpoint *prometheus.GaugeVec
	lag        *prometheus.GaugeVec
	applied    *prometheus.CounterVec
	batch      *prometheus.HistogramVec
	errors     *prometheus.CounterVec
	rebuilding *prometheus.GaugeVec
	rebuilt    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		checkpoint: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rebound_projection_checkpoint",
			Help: "Global position of the last event a projection applied to its live tables.",
		}, []string{"projection"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rebound_projection_lag_events",
			Help: "Events stored after a projection's checkpoint that it has not applied yet (last position of the event store minus the position the projection is known to have caught up to).",
		}, []string{"projection"}),
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rebound_projection_events_applied_total",
			Help: "Events a projection applied to its live tables.",
		}, []string{"projection"}),
		batch: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rebound_projection_batch_duration_seconds",
			Help:    "Time to apply one batch and commit it with the checkpoint.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"projection"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rebound_projection_errors_total",
			Help: "Failed batches, reads and rebuilds of a projection (each is retried).",
		}, []string{"projection"}),
		rebuilding: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rebound_projection_rebuilding",
			Help: "1 while a projection is being rebuilt in this process.",
		}, []string{"projection"}),
		rebuilt: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rebound_projection_rebuild_events_total",
			Help: "Events applied to rebuilds' fresh tables.",
		}, []string{"projection"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.checkpoint, err = register(reg, m.checkpoint); err != nil {
		return nil, err
	}
	if m.lag, err = register(reg, m.lag); err != nil {
		return nil, err
	}
	if m.applied, err = register(reg, m.applied); err != nil {
		return nil, err
	}
	if m.batch, err = register(reg, m.batch); err != nil {
		return nil, err
	}
	if m.errors, err = register(reg, m.errors); err != nil {
		return nil, err
	}
	if m.rebuilding, err = register(reg, m.rebuilding); err != nil {
		return nil, err
	}
	if m.rebuilt, err = register(reg, m.rebuilt); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector already registered under its name, so that
// several runners can share one registry.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}
