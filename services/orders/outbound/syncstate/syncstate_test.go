package syncstate_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/services/orders/outbound/syncstate"
)

func TestMain(m *testing.M) { natstest.Main(m) }

func TestStore_claimsEachCycleOnce(t *testing.T) {
	t.Parallel()
	js, err := jetstream.New(natstest.Connect(t, natstest.SharedURL(t)))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := syncstate.New(js, "SYNC_TEST_CLAIMS", 1)
	b, _ := syncstate.New(js, "SYNC_TEST_CLAIMS", 1)
	ctx := t.Context()
	t0 := time.Now().Truncate(time.Millisecond)
	at, ok, err := a.Claim(ctx, "m1", "shop", t0, time.Minute)
	if err != nil || !ok || !at.Equal(t0) {
		t.Fatalf("first claim: %v %v %v", at, ok, err)
	}
	if _, ok, err := b.Claim(ctx, "m1", "shop", t0, time.Minute); err != nil || ok {
		t.Fatalf("another process claimed the same cycle: %v %v", ok, err)
	}
	// Both try the next one; exactly one gets it.
	t1 := t0.Add(time.Minute)
	_, okA, errA := a.Claim(ctx, "m1", "shop", t1, time.Minute)
	_, okB, errB := b.Claim(ctx, "m1", "shop", t1, time.Minute)
	if errA != nil || errB != nil || okA == okB {
		t.Fatalf("next cycle claimed by a %v and b %v (%v, %v)", okA, okB, errA, errB)
	}
	// A shortened interval moves the next cycle closer.
	next, ok, err := a.Claim(ctx, "m1", "shop", t1.Add(time.Second), time.Second)
	if err != nil || ok || !next.Equal(t1.Add(2*time.Second)) {
		t.Fatalf("after the interval was shortened: %v %v %v", next, ok, err)
	}
	if _, ok, _ := a.Claim(ctx, "m1", "shop", t1.Add(2*time.Second), time.Second); !ok {
		t.Fatal("the moved cycle was not claimed when due")
	}
	if err := a.SetCursor(ctx, "m1", "wms", "42"); err != nil {
		t.Fatal(err)
	}
	if c, err := b.Cursor(ctx, "m1", "wms"); err != nil || c != "42" {
		t.Fatalf("cursor %q, %v", c, err)
	}
}
