package mailbox

import (
	"errors"
	"fmt"
	"time"
)

// Config is the policy a mailbox's commands apply. The zero value of each field takes its
// default. Policies apply when a command decides, never when events are folded: changing them
// never changes the state stored events rebuild.
type Config struct {
	// FirstReminder is how long after a contact was told about an alert that is still open it is
	// reminded the first time; each further reminder waits twice as long, up to MaxReminder.
	// Default 1 h.
	FirstReminder time.Duration
	// MaxReminder is the longest wait between reminders, and the wait once an alert is older than
	// a day ("daily after the first day"). Default 24 h.
	MaxReminder time.Duration
	// Claim is how long an intended notification belongs to the process that intended it: one not
	// sent by then (its process died) is sent by the next one that looks. Default 2 min.
	Claim time.Duration
	// Retry is how failed sends are retried.
	Retry Retry
	// KeepNotifications is how many sent or failed notifications the mailbox keeps for listing;
	// default 200.
	KeepNotifications int
	// CoveredExamples is how many covered records a connection_down alert lists; default 10.
	CoveredExamples int
}

// Retry is how failed sends are retried: Attempts attempts in all, waiting Initial after the
// first failure, doubling up to Max.
type Retry struct {
	// Attempts is the number of attempts before a notification is given up; default 6.
	Attempts int
	// Initial is the wait after the first failure; default 30 s.
	Initial time.Duration
	// Max is the longest wait; default 30 min.
	Max time.Duration
}

// Defaults.
const (
	DefaultFirstReminder     = time.Hour
	DefaultMaxReminder       = 24 * time.Hour
	DefaultClaim             = 2 * time.Minute
	DefaultAttempts          = 6
	DefaultRetryInitial      = 30 * time.Second
	DefaultRetryMax          = 30 * time.Minute
	DefaultKeepNotifications = 200
	DefaultCoveredExamples   = 10
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.FirstReminder, DefaultFirstReminder)
	def(&c.MaxReminder, DefaultMaxReminder)
	def(&c.Claim, DefaultClaim)
	def(&c.Retry.Initial, DefaultRetryInitial)
	def(&c.Retry.Max, DefaultRetryMax)
	if c.Retry.Attempts == 0 {
		c.Retry.Attempts = DefaultAttempts
	}
	if c.KeepNotifications == 0 {
		c.KeepNotifications = DefaultKeepNotifications
	}
	if c.CoveredExamples == 0 {
		c.CoveredExamples = DefaultCoveredExamples
	}
	return c
}

// Validate reports every problem with the configuration.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	for name, d := range map[string]time.Duration{"FirstReminder": c.FirstReminder, "MaxReminder": c.MaxReminder,
		"Claim": c.Claim, "Retry.Initial": c.Retry.Initial, "Retry.Max": c.Retry.Max} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("mailbox: %s %s is negative", name, d))
		}
	}
	if c.MaxReminder < c.FirstReminder {
		errs = append(errs, fmt.Errorf("mailbox: MaxReminder %s is shorter than FirstReminder %s", c.MaxReminder, c.FirstReminder))
	}
	if c.Retry.Attempts < 0 || c.KeepNotifications < 0 || c.CoveredExamples < 0 {
		errs = append(errs, errors.New("mailbox: Retry.Attempts, KeepNotifications and CoveredExamples must not be negative"))
	}
	return errors.Join(errs...)
}

// backoff is the wait after the attempt-th failure (1-based).
func (r Retry) backoff(attempt int) time.Duration {
	d := r.Initial
	for i := 1; i < attempt && d < r.Max; i++ {
		d *= 2
	}
	return min(d, r.Max)
}
