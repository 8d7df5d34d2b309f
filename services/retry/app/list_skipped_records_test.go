package app_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	retryv1 "github.com/reboundhq/rebound/proto/gen/rebound/retry/v1"

	"github.com/reboundhq/rebound/services/retry/app"
)

func TestSkipReason(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		s    *retryv1.RetrySchedule
		want string
	}{
		{&retryv1.RetrySchedule{
			ExhaustedReason: retryv1.ExhaustedReason_EXHAUSTED_REASON_MAX_AGE,
			Window:          &retryv1.RetryWindow{StartedAt: timestamppb.New(start)},
			EndedAt:         timestamppb.New(start.Add(15*24*time.Hour + time.Minute)),
			LastFailure:     &retryv1.Failure{HttpStatus: 503, Code: "SERVICE_UNAVAILABLE", Message: "Service Unavailable"},
		}, "retries ran out after 15 days of trying: HTTP 503 SERVICE_UNAVAILABLE Service Unavailable"},
		{&retryv1.RetrySchedule{
			ExhaustedReason: retryv1.ExhaustedReason_EXHAUSTED_REASON_MAX_CONSECUTIVE_FAILURES,
			Window:          &retryv1.RetryWindow{ConsecutiveFailures: 100},
			LastFailure:     &retryv1.Failure{Code: "timeout"},
		}, "retries ran out after 100 failures in a row: timeout"},
		{&retryv1.RetrySchedule{
			ExhaustedReason: retryv1.ExhaustedReason_EXHAUSTED_REASON_REJECTED,
			LastFailure:     &retryv1.Failure{HttpStatus: 400, Message: "Bad Request"},
		}, "rejected by the external system, not retried: HTTP 400 Bad Request"},
		{&retryv1.RetrySchedule{
			ExhaustedReason: retryv1.ExhaustedReason_EXHAUSTED_REASON_MAX_AGE,
			Window:          &retryv1.RetryWindow{StartedAt: timestamppb.New(start)},
			EndedAt:         timestamppb.New(start.Add(3 * time.Hour)),
		}, "retries ran out after 3 hours of trying"},
	}
	for _, tt := range tests {
		if got := app.SkipReason(tt.s); got != tt.want {
			t.Errorf("SkipReason = %q, want %q", got, tt.want)
		}
	}
}
