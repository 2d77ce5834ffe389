package realtime

import (
	"encoding/json"
	"math"
	"net/http"
	"time"

	"github.com/parleychat/parley/internal/rest"
)

// The frames that act on a channel: send, typing and history.

type sendReply struct {
	ChannelSID string          `json:"channel_sid"`
	Index      int64           `json:"index"`
	Message    json.RawMessage `json:"message"`
}

// sendMessage commits a message as the token's identity, after the rate
// limits and the membership check; the reply carries the assigned index.
func (sess *session) sendMessage(f *ClientFrame, p *rest.Principal) (any, error) {
	if ok, wait := sess.svc.identityLimit.allow(identityKey(p)); !ok {
		return nil, rateLimited("you are sending messages too fast", wait)
	}
	if ok, wait := sess.svc.channelLimit.allow(f.ChannelSID); !ok {
		return nil, rateLimited("this channel receives messages too fast", wait)
	}
	if err := sess.requireMember(p, f.ChannelSID); err != nil {
		return nil, err
	}
	msg, idx, err := sess.svc.chat.SendMessage(sess.ctx, p.AccountSID, p.ChatServiceSID, f.ChannelSID, p.Identity,
		f.Body, f.Attributes, f.ClientMessageID)
	if err != nil {
		return nil, err
	}
	return sendReply{ChannelSID: f.ChannelSID, Index: idx, Message: msg}, nil
}

// rateLimitError is a 20429 with the exact wait, for the frame's retry_after_ms.
type rateLimitError struct {
	err *rest.Error
	ms  int
}

func (e *rateLimitError) Error() string { return e.err.Error() }
func (e *rateLimitError) Unwrap() error { return e.err }

func rateLimited(why string, wait time.Duration) error {
	ms := max(int(math.Ceil(float64(wait)/float64(time.Millisecond))), 1)
	e := rest.NewError(http.StatusTooManyRequests, rest.CodeTooManyRequests, "Too many messages: %s; retry in %d ms", why, ms)
	e.RetryAfter = (ms + 999) / 1000
	return &rateLimitError{err: e, ms: ms}
}

// typing publishes typing.started or typing.ended for a subscribed
// channel the identity is a member of (a supervisor monitoring it is not);
// started is sent at most once per TypingInterval.
func (sess *session) typing(f *ClientFrame, p *rest.Principal) (any, error) {
	ch := f.ChannelSID
	sess.mu.Lock()
	sub, subscribed := sess.subs[ch]
	monitor := subscribed && sub.monitor
	now := sess.svc.opts.Now()
	coalesce := f.State == "started" && now.Sub(sess.typingAt[ch]) < sess.svc.opts.TypingInterval
	if f.State == "started" && !coalesce {
		sess.typingAt[ch] = now
	} else if f.State == "ended" {
		delete(sess.typingAt, ch)
	}
	sess.mu.Unlock()
	if !subscribed {
		return nil, rest.Forbidden("Subscribe to channel %s before signalling typing in it", ch)
	}
	if monitor {
		if err := sess.requireMember(p, ch); err != nil {
			return nil, err
		}
	}
	if !coalesce {
		typ := TypeTypingStarted
		if f.State == "ended" {
			typ = TypeTypingEnded
		}
		if err := sess.svc.publishTyping(sess.ctx, p, ch, typ); err != nil {
			return nil, err
		}
	}
	return empty{}, nil
}

// history reads a page of messages before or after an index (the latest
// page when neither is given), ascending.
func (sess *session) history(f *ClientFrame, p *rest.Principal) (any, error) {
	if _, err := sess.requireReader(p, f.ChannelSID); err != nil {
		return nil, err
	}
	var msgs []json.RawMessage
	var err error
	if f.After != nil {
		msgs, err = sess.svc.chat.MessagesAfter(sess.ctx, p.AccountSID, p.ChatServiceSID, f.ChannelSID, *f.After, f.Limit)
	} else {
		before := int64(math.MaxInt64)
		if f.Before != nil {
			before = *f.Before
		}
		msgs, err = sess.svc.chat.MessagesBefore(sess.ctx, p.AccountSID, p.ChatServiceSID, f.ChannelSID, before, f.Limit)
	}
	if msgs == nil {
		msgs = []json.RawMessage{}
	}
	return map[string]any{"channel_sid": f.ChannelSID, "messages": msgs}, err
}
