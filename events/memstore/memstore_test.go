package memstore_test

import (
	"testing"

	"github.com/reboundhq/rebound/events"
	"github.com/reboundhq/rebound/events/memstore"
	"github.com/reboundhq/rebound/events/storetest"
)

func TestStore(t *testing.T) {
	storetest.TestStore(t, storetest.Features{}, func(t *testing.T, reg *events.Registry) events.Store {
		return memstore.New(reg)
	})
}
