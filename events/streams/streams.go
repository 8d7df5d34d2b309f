// Package streams creates and updates the JetStream streams Rebound uses, touching a stream only
// when its configuration differs from what is wanted: an update is a write the server announces
// and, in nats-server 2.15, one that races with consumers being created on the stream.
package streams

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/nats-io/nats.go/jetstream"
)

// Ensure creates the stream described by want, or updates it when one of the settings want
// gives (its non-zero fields) differs from the stream's. Settings want leaves at zero, and the
// replica count of an existing stream, stay as the operator set them.
func Ensure(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig) (jetstream.Stream, error) {
	existing, err := js.Stream(ctx, want.Name)
	switch {
	case err == nil:
		have := existing.CachedInfo().Config
		if Covers(have, want) {
			return existing, nil
		}
		if want.Replicas == 0 {
			want.Replicas = have.Replicas
		}
	case !errors.Is(err, jetstream.ErrStreamNotFound):
		return nil, fmt.Errorf("streams: looking up %s: %w", want.Name, err)
	}
	s, err := js.CreateOrUpdateStream(ctx, want)
	if err != nil {
		return nil, fmt.Errorf("streams: creating or updating %s: %w", want.Name, err)
	}
	return s, nil
}

// Covers reports whether have already has every non-zero setting of want.
func Covers(have, want jetstream.StreamConfig) bool {
	hv, wv := reflect.ValueOf(have), reflect.ValueOf(want)
	for i := range wv.NumField() {
		w := wv.Field(i)
		if !wv.Type().Field(i).IsExported() || w.IsZero() {
			continue
		}
		if !reflect.DeepEqual(hv.Field(i).Interface(), w.Interface()) {
			return false
		}
	}
	return true
}
