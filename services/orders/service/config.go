package service

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/reboundhq/rebound/connector/classify"
	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/services/orders/inbound/consumers"
)

// Config configures the service. The zero value is valid: every zero field takes its default.
type Config struct {
	// Classifier classifies failures (to hold, skip or leave orders to retries); when nil, the
	// rules file at RulesFile, else the built-in rules. The alerts and retry services must use the
	// same rules.
	Classifier *classify.Classifier
	// RulesFile is a classification rules file (see connector/classify).
	RulesFile string
	// ConnectionsFile is a YAML or JSON file of connections to configure at start (see
	// LoadConnectionsFile), for deployments without ConnectionService clients.
	ConnectionsFile string

	// Workers is how many messages the reports, holds and retry handlers process at once;
	// default 16.
	Workers int
	// DeliveryWorkers is how many orders (and tracking pushes) the delivery and tracking
	// handlers send at once, each waiting for the WMS or the cart; default 64.
	DeliveryWorkers int
	// DueWorkers is how many RetryDue commands are handled at once; default 32.
	DueWorkers int
	// OrderCache is how many orders stay in memory; default 20 000.
	OrderCache int

	// SyncTick is how often the scheduler looks for due sync cycles; default 1 s.
	SyncTick time.Duration
	// ManualSync turns the scheduler off: cycles run only through Service.SyncNow (tests, ops).
	ManualSync bool

	// HandlerPrefix starts the consumer names; default "orders" (orders-delivery, orders-reports,
	// orders-holds, orders-tracking, orders-retry, orders-due). Persisted: a new prefix starts new
	// consumers.
	HandlerPrefix string
	// OnlyAccount, when set, makes the consumers read only that account's events and commands;
	// for benchmarks that run a service of their own next to the real one.
	OnlyAccount string
	// DueStream is the retry service's RetryDue stream; default RETRY_DUE.
	DueStream string
	// SecretsBucket is the key-value bucket of connection credentials; default
	// CONNECTION_SECRETS.
	SecretsBucket string
	// SyncBucket is the key-value bucket of the sync cycles' state; default ORDERS_SYNC.
	SyncBucket string
	// Replicas is the number of copies of the buckets in a cluster; default 1.
	Replicas int
	// HTTPClient is the connectors' HTTP client; nil shares a pooled transport (the connection's
	// timeout applies either way).
	HTTPClient *http.Client
}

// Defaults.
const (
	DefaultWorkers         = 16
	DefaultDeliveryWorkers = 64
	DefaultDueWorkers      = 32
	DefaultOrderCache      = 20_000
)

func (c *Config) setDefaults() {
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.DeliveryWorkers == 0 {
		c.DeliveryWorkers = DefaultDeliveryWorkers
	}
	if c.DueWorkers == 0 {
		c.DueWorkers = DefaultDueWorkers
	}
	if c.OrderCache == 0 {
		c.OrderCache = DefaultOrderCache
	}
	if c.SyncTick == 0 {
		c.SyncTick = time.Second
	}
	if c.HandlerPrefix == "" {
		c.HandlerPrefix = consumers.DefaultPrefix
	}
}

// Validate reports every problem with the configuration, defaults applied first.
func (c Config) Validate() error {
	c.setDefaults()
	var errs []error
	if c.Workers < 0 || c.DeliveryWorkers < 0 || c.DueWorkers < 0 || c.OrderCache < 0 || c.Replicas < 0 {
		errs = append(errs, errors.New("orders: Workers, DeliveryWorkers, DueWorkers, OrderCache and Replicas must not be negative"))
	}
	if c.SyncTick < 0 {
		errs = append(errs, fmt.Errorf("orders: SyncTick %s is negative", c.SyncTick))
	}
	if !validName(c.HandlerPrefix) {
		errs = append(errs, fmt.Errorf("orders: HandlerPrefix %q must be a short name of a-z 0-9 _ -", c.HandlerPrefix))
	}
	if c.OnlyAccount != "" && !events.ValidToken(c.OnlyAccount) {
		errs = append(errs, fmt.Errorf("orders: OnlyAccount %q is not an account id", c.OnlyAccount))
	}
	return errors.Join(errs...)
}

func validName(s string) bool {
	if s == "" || len(s) > 48 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !('a' <= ch && ch <= 'z' || '0' <= ch && ch <= '9' || ch == '_' || ch == '-') {
			return false
		}
	}
	return true
}
