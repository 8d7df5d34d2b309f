// Package health keeps what the orders service saw of its connections — the outcome of its calls
// to each system and its sync cycles — in memory, for ConnectionService's health.
package health

import (
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	connectionsv1 "github.com/reboundhq/rebound/proto/gen/rebound/connections/v1"
)

// Board holds the health of every connection this process talked to. Safe for concurrent use.
type Board struct {
	mu sync.Mutex
	m  map[key]*connectionsv1.ConnectionHealth
}

type key struct{ account, id string }

// NewBoard returns an empty board.
func NewBoard() *Board { return &Board{m: make(map[key]*connectionsv1.ConnectionHealth)} }

func (b *Board) get(account, id string) *connectionsv1.ConnectionHealth {
	k := key{account, id}
	h, ok := b.m[k]
	if !ok {
		h = &connectionsv1.ConnectionHealth{}
		b.m[k] = h
	}
	return h
}

// Success records a call that went through.
func (b *Board) Success(account, id string, at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.get(account, id)
	h.Status = connectionsv1.HealthStatus_HEALTH_STATUS_HEALTHY
	h.LastSuccessAt = timestamppb.New(at)
	h.ConsecutiveFailures = 0
}

// Failure records a call that failed, with the system's message.
func (b *Board) Failure(account, id, message string, at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.get(account, id)
	h.Status = connectionsv1.HealthStatus_HEALTH_STATUS_FAILING
	h.LastFailureAt = timestamppb.New(at)
	if len(message) > 1024 {
		message = message[:1024]
	}
	h.LastFailureMessage = message
	h.ConsecutiveFailures++
}

// SyncStarted records the start of a sync cycle.
func (b *Board) SyncStarted(account, id string, at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.get(account, id).LastSyncStartedAt = timestamppb.New(at)
}

// SyncFinished records the end of a sync cycle and what it pushed.
func (b *Board) SyncFinished(account, id string, at time.Time, pushed, failed int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.get(account, id)
	h.LastSyncFinishedAt = timestamppb.New(at)
	h.LastSyncPushed, h.LastSyncFailed = uint32(max(pushed, 0)), uint32(max(failed, 0))
}

// NextSync records when the connection's next cycle is due.
func (b *Board) NextSync(account, id string, at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.get(account, id).NextSyncAt = timestamppb.New(at)
}

// Get returns a copy of a connection's health (empty when nothing was seen).
func (b *Board) Get(account, id string) *connectionsv1.ConnectionHealth {
	b.mu.Lock()
	defer b.mu.Unlock()
	if h, ok := b.m[key{account, id}]; ok {
		return proto.CloneOf(h)
	}
	return &connectionsv1.ConnectionHealth{}
}
