// Package bus is the pub/sub seam between the parts of a node and between
// nodes: in-process by default (Memory), NATS when several nodes serve one
// deployment (bus/natsbus).
//
// The contract, which every implementation and every user must keep:
//
//   - Delivery is at most once. A message may be dropped (a slow
//     subscriber's buffer is full, NATS is restarting); it is never
//     delivered twice to one subscription, and messages published by one
//     goroutine on one subject arrive in the order they were published.
//   - The database is the truth. Publishers commit first and publish
//     second; a subscriber that notices a gap (a chat channel's message
//     index jumps) reads what it missed from the store. So a drop costs a
//     read, never a lost message.
//   - Subjects are dot-separated tokens. A subscription subject may end in
//     ".>", matching every subject with that prefix and at least one more
//     token, or use "*" for exactly one token.
//
// Subjects Parley uses (the publisher's package owns the payload):
//
//	chat.<ChannelSid>          chat channel events (chat -> realtime)
//	worker.<WorkerSid>         TaskRouter events for one worker (taskrouter -> realtime)
//	workspace.<WorkspaceSid>   TaskRouter statistics changes (taskrouter -> realtime)
//	keys.deleted               an API key was deleted; data is its SID (account -> token, realtime)
package bus

import (
	"context"
	"strings"
)

// Msg is one delivered message.
type Msg struct {
	Subject string
	Data    []byte
}

// Bus publishes and subscribes.
type Bus interface {
	// Publish sends data to every current subscription matching subject.
	// It does not wait for subscribers to handle it.
	Publish(ctx context.Context, subject string, data []byte) error
	// Subscribe calls fn for every message matching subject, one at a time
	// and in order, on a goroutine of the bus's own.
	Subscribe(subject string, fn func(Msg)) (Subscription, error)
	// Healthy reports whether the bus can deliver right now (for /readyz).
	Healthy() error
	Close() error
}

// Subscription is an active subscription.
type Subscription interface {
	Unsubscribe() error
}

// Match reports whether subject matches pattern (with "*" and a trailing ">").
func Match(pattern, subject string) bool {
	p := strings.Split(pattern, ".")
	s := strings.Split(subject, ".")
	for i, tok := range p {
		if tok == ">" && i == len(p)-1 {
			return len(s) > i
		}
		if i >= len(s) || (tok != "*" && tok != s[i]) {
			return false
		}
	}
	return len(p) == len(s)
}
