package bus

import (
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// retrying calls next again after a retryable error, waiting with exponential backoff, up to
// cfg.MaxAttempts calls. It returns the last error when the attempts run out or the bus stops;
// the subscriber then naks the message, and JetStream delivers it again later.
func retrying(cfg RetryConfig) message.HandlerMiddleware {
	return func(next message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			for attempt := 1; ; attempt++ {
				out, err := next(msg)
				if err == nil || IsPermanent(err) || attempt >= cfg.MaxAttempts {
					return out, err
				}
				t := time.NewTimer(cfg.backoff(attempt))
				select {
				case <-t.C:
				case <-stopping(msg.Context()):
					t.Stop()
					return out, err
				case <-msg.Context().Done():
					t.Stop()
					return out, err
				}
			}
		}
	}
}
