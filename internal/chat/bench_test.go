package chat

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/storetest"
)

// BenchmarkSendMessage measures one send: validation, the transaction
// that takes the index and inserts the message, and the publish on the
// in-process bus (with one subscriber, as realtime has).
func BenchmarkSendMessage(b *testing.B) {
	for _, backend := range []struct {
		name string
		open func(testing.TB) *store.DB
	}{{storetest.SQLite, storetest.OpenSQLite}, {storetest.Postgres, storetest.OpenPostgres}} {
		b.Run(backend.name, func(b *testing.B) {
			f := newFixture(b, backend.open(b))
			var delivered atomic.Int64
			sub, err := f.bus.Subscribe(Subject(f.ch), func(bus.Msg) { delivered.Add(1) })
			if err != nil {
				b.Fatal(err)
			}
			defer sub.Unsubscribe()
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := f.s.SendMessage(ctx, f.account, f.is, f.ch, "visitor", "hello, I have a question about my order", "", ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
