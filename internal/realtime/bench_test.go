package realtime_test

import (
	"fmt"
	"testing"

	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/store/storetest"
)

// BenchmarkSend measures one message from a socket's send frame to its
// commit, the sender's ack and the message.added frame on another
// subscribed socket, over loopback, one message at a time.
func BenchmarkSend(b *testing.B) {
	for _, name := range []string{storetest.SQLite, storetest.Postgres} {
		b.Run(name, func(b *testing.B) {
			srv := parleytest.Start(b, parleytest.Backend(b, name), noLimits)
			fx := newFixture(b, srv)
			ch := fx.channel(b, "guest", "agent")
			guest, agent := connect(b, srv, fx.token(b, "guest")), connect(b, srv, fx.token(b, "agent"))
			agent.subscribe(ch, nil)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if r := guest.send(ch, "Hello, where is my order?", fmt.Sprint(i)); r["type"] != "reply" {
					b.Fatalf("send: %v", r)
				}
				if f := agent.next("message.added"); num(f["index"]) != int64(i) {
					b.Fatalf("fan-out: %v", f)
				}
			}
		})
	}
}
