package streams_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/events/streams"
)

func TestEnsure_createsUpdatesAndLeavesAlone(t *testing.T) {
	srv := natstest.Start(t, "")
	js, err := jetstream.New(natstest.Connect(t, srv.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	want := jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Storage: jetstream.FileStorage, Duplicates: time.Minute, AllowDirect: true}
	s, err := streams.Ensure(ctx, js, want)
	if err != nil {
		t.Fatal(err)
	}
	created := s.CachedInfo().Created
	if !streams.Covers(s.CachedInfo().Config, want) {
		t.Fatalf("created stream %+v does not cover %+v", s.CachedInfo().Config, want)
	}
	// Unchanged: no update (the server's defaults for unset fields do not count as changes).
	again, err := streams.Ensure(ctx, js, want)
	if err != nil || !again.CachedInfo().Created.Equal(created) {
		t.Fatalf("Ensure of an unchanged stream: %v", err)
	}
	want.Duplicates = 2 * time.Minute
	if streams.Covers(again.CachedInfo().Config, want) {
		t.Fatal("Covers missed a changed duplicate window")
	}
	updated, err := streams.Ensure(ctx, js, want)
	if err != nil || updated.CachedInfo().Config.Duplicates != 2*time.Minute {
		t.Fatalf("update: %v, duplicates %s", err, updated.CachedInfo().Config.Duplicates)
	}
}
