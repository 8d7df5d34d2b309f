package auth_test

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/reboundhq/rebound/events/natstest"
	"github.com/reboundhq/rebound/rpc/auth"
)

func newJetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	srv := natstest.Start(t, "")
	js, err := jetstream.New(natstest.Connect(t, srv.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func TestKVStore_contract(t *testing.T) {
	t.Parallel()
	store, err := auth.NewKVStore(context.Background(), newJetStream(t), auth.KVConfig{})
	if err != nil {
		t.Fatal(err)
	}
	testKeyStore(t, store)
}

func TestKVStore_createsBucketIdempotently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	js := newJetStream(t)
	s1, err := auth.NewKVStore(ctx, js, auth.KVConfig{})
	if err != nil {
		t.Fatal(err)
	}
	plain, _, err := auth.IssueKey(ctx, s1, auth.ScopeAdmin, "", "")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := auth.NewKVStore(ctx, js, auth.KVConfig{})
	if err != nil {
		t.Fatalf("opening the bucket again: %v", err)
	}
	if _, err := auth.Verify(ctx, s2, plain); err != nil {
		t.Fatalf("key issued through the first store does not verify through the second: %v", err)
	}
	kv, err := js.KeyValue(ctx, auth.DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Bucket() != "API_KEYS" {
		t.Fatalf("bucket = %q, want API_KEYS", st.Bucket())
	}
	if info := st.(*jetstream.KeyValueBucketStatus).StreamInfo(); info.Config.Storage != jetstream.FileStorage {
		t.Fatalf("storage = %s, want file", info.Config.Storage)
	}
}

func TestKVStore_storesOnlyTheHash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	js := newJetStream(t)
	store, err := auth.NewKVStore(ctx, js, auth.KVConfig{})
	if err != nil {
		t.Fatal(err)
	}
	plain, k, err := auth.IssueKey(ctx, store, auth.ScopeMerchant, "m1", "shop")
	if err != nil {
		t.Fatal(err)
	}
	_, secret, _ := auth.ParseKey(plain)
	kv, err := js.KeyValue(ctx, auth.DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	raw := string(e.Value())
	if strings.Contains(raw, secret) || strings.Contains(raw, plain) {
		t.Fatalf("the stored entry contains the secret: %s", raw)
	}
	if !strings.Contains(raw, hex.EncodeToString(k.Hash)) || !strings.Contains(raw, `"hash_alg":"sha256"`) {
		t.Fatalf("the stored entry has no SHA-256 hash: %s", raw)
	}
}
