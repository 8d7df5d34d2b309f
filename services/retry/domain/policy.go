package domain

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/connector"
)

// Mode says what triggers a record's retry attempts.
type Mode int

// Modes of a Policy.
const (
	// ModeTimer retries on a timer, Interval ± Jitter after each failure (orders).
	ModeTimer Mode = iota + 1
	// ModeSyncCycle retries on the next sync cycle of the record's connection (tracking,
	// inventory, product).
	ModeSyncCycle
)

// String returns the mode's config word: "timer" or "sync_cycle".
func (m Mode) String() string {
	switch m {
	case ModeTimer:
		return "timer"
	case ModeSyncCycle:
		return "sync_cycle"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// MarshalText implements encoding.TextMarshaler.
func (m Mode) MarshalText() ([]byte, error) {
	if m != ModeTimer && m != ModeSyncCycle {
		return nil, fmt.Errorf("retry: unknown mode %d", int(m))
	}
	return []byte(m.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler; it accepts "timer" and "sync_cycle".
func (m *Mode) UnmarshalText(b []byte) error {
	switch string(b) {
	case "timer":
		*m = ModeTimer
	case "sync_cycle":
		*m = ModeSyncCycle
	default:
		return fmt.Errorf("retry: unknown mode %q (timer or sync_cycle)", b)
	}
	return nil
}

func (m Mode) proto() retryv1.PolicyMode {
	switch m {
	case ModeTimer:
		return retryv1.PolicyMode_POLICY_MODE_TIMER
	case ModeSyncCycle:
		return retryv1.PolicyMode_POLICY_MODE_SYNC_CYCLE
	}
	return retryv1.PolicyMode_POLICY_MODE_UNSPECIFIED
}

func modeOf(m retryv1.PolicyMode) Mode {
	switch m {
	case retryv1.PolicyMode_POLICY_MODE_TIMER:
		return ModeTimer
	case retryv1.PolicyMode_POLICY_MODE_SYNC_CYCLE:
		return ModeSyncCycle
	}
	return 0
}

// MaxJitter is the largest jitter fraction a policy may have.
const MaxJitter = 0.5

// Policy is how one record is retried, resolved for its kind and connection (see Policies.For).
// Every decision event stores the policy it was made with, so a rebuild never depends on the
// configuration of the day.
type Policy struct {
	// Mode says what triggers attempts.
	Mode Mode
	// Interval is the time between attempts in timer mode, before jitter. Sync-cycle mode
	// does not use it.
	Interval time.Duration
	// Jitter is the fraction of a delay by which an attempt moves either way (0.1 = ±10 %).
	// The jitter of an attempt is derived from the record key and the attempt number, so it is
	// the same every time it is computed, and it is stored in the event anyway.
	Jitter float64
	// MaxAge is the age window: how long after the window started attempts may still be made.
	// Time while the record is held or its connection is down does not count.
	MaxAge time.Duration
	// MaxConsecutiveFailures ends the series at that many failures without a success
	// (manual-action failures do not count); 0 means no limit.
	MaxConsecutiveFailures int
	// AuthBackoffBase is the delay after the first auth failure in a row; it doubles with each
	// further one, up to AuthBackoffMax.
	AuthBackoffBase time.Duration
	// AuthBackoffMax caps the auth backoff (the hourly cadence by default).
	AuthBackoffMax time.Duration
}

// Validate reports every problem of the policy, joined; each is a *connector.FieldError naming
// the field (wrapping events.ErrInvalidArgument).
func (p Policy) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &connector.FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	switch p.Mode {
	case ModeTimer:
		if p.Interval <= 0 {
			bad("interval", "must be positive in timer mode, not %s", p.Interval)
		}
	case ModeSyncCycle:
		if p.Interval < 0 {
			bad("interval", "must not be negative, not %s", p.Interval)
		}
	default:
		bad("mode", "must be timer or sync_cycle, not %s", p.Mode)
	}
	if math.IsNaN(p.Jitter) || p.Jitter < 0 || p.Jitter > MaxJitter {
		bad("jitter", "must be a fraction from 0 to %g, not %g", MaxJitter, p.Jitter)
	}
	if p.MaxAge <= 0 {
		bad("max_age", "must be positive, not %s", p.MaxAge)
	}
	if p.MaxConsecutiveFailures < 0 || int64(p.MaxConsecutiveFailures) > math.MaxUint32 {
		bad("max_consecutive_failures", "must be from 0 (no limit) to %d, not %d", uint32(math.MaxUint32), p.MaxConsecutiveFailures)
	}
	if p.AuthBackoffBase <= 0 {
		bad("auth_backoff_base", "must be positive, not %s", p.AuthBackoffBase)
	}
	if p.AuthBackoffMax < p.AuthBackoffBase {
		bad("auth_backoff_max", "must be at least auth_backoff_base (%s), not %s", p.AuthBackoffBase, p.AuthBackoffMax)
	}
	return errors.Join(errs...)
}

// AuthBackoff returns the delay after the n-th auth failure in a row (n from 1): the base,
// doubled n-1 times, capped at the maximum. It has no jitter yet.
func (p Policy) AuthBackoff(n int) time.Duration {
	d := p.AuthBackoffBase
	for i := 1; i < n && d < p.AuthBackoffMax && d <= math.MaxInt64/2; i++ {
		d *= 2
	}
	return min(d, p.AuthBackoffMax)
}

func (p Policy) proto() *retryv1.RetryPolicy {
	return &retryv1.RetryPolicy{
		Mode:                   p.Mode.proto(),
		Interval:               durationpb.New(p.Interval),
		Jitter:                 p.Jitter,
		MaxAge:                 durationpb.New(p.MaxAge),
		MaxConsecutiveFailures: uint32(p.MaxConsecutiveFailures),
		AuthBackoffBase:        durationpb.New(p.AuthBackoffBase),
		AuthBackoffMax:         durationpb.New(p.AuthBackoffMax),
	}
}

func policyOf(m *retryv1.RetryPolicy) Policy {
	return Policy{
		Mode:                   modeOf(m.GetMode()),
		Interval:               m.GetInterval().AsDuration(),
		Jitter:                 m.GetJitter(),
		MaxAge:                 m.GetMaxAge().AsDuration(),
		MaxConsecutiveFailures: int(m.GetMaxConsecutiveFailures()),
		AuthBackoffBase:        m.GetAuthBackoffBase().AsDuration(),
		AuthBackoffMax:         m.GetAuthBackoffMax().AsDuration(),
	}
}

// Jitter returns the jitter of one attempt: a fraction of delay in [-fraction, +fraction),
// derived from a hash of the schedule id, the window and the attempt number, so that computing it
// again gives the same value and records scheduled together spread out.
func Jitter(scheduleID string, window, attempt uint32, delay time.Duration, fraction float64) time.Duration {
	if fraction <= 0 || delay <= 0 {
		return 0
	}
	h := sha256.New()
	h.Write([]byte(scheduleID))
	var nums [9]byte
	nums[0] = 0x1f
	binary.BigEndian.PutUint32(nums[1:5], window)
	binary.BigEndian.PutUint32(nums[5:9], attempt)
	h.Write(nums[:])
	sum := h.Sum(nil)
	u := float64(binary.BigEndian.Uint64(sum[:8])>>11) / (1 << 53) // uniform in [0, 1)
	return time.Duration((2*u - 1) * fraction * float64(delay))
}

// ceilSecond rounds t up to the whole second, in UTC: durable timers have whole-second
// precision, and a timer must never fire before its time.
func ceilSecond(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	t = t.UTC().Round(0)
	tr := t.Truncate(time.Second)
	if tr.Equal(t) {
		return tr
	}
	return tr.Add(time.Second)
}
