package studio

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"
)

// defaultReplyTimeout is send-and-wait-for-reply's timeout when the
// widget names none (Twilio's default, one hour).
const defaultReplyTimeout = 3600

// maxReplyTimeout bounds a wait: seven days.
const maxReplyTimeout = 7 * 24 * 3600

// ---- send-message ----

type sendMessageWidget struct {
	common
	Body        text `json:"body"`
	From        text `json:"from"`
	To          text `json:"to"`
	Service     text `json:"service"`
	Channel     text `json:"channel"`
	Attributes  text `json:"attributes"`
	MediaURL    text `json:"media_url"`
	MessageType text `json:"message_type"`
}

func (w *sendMessageWidget) Validate(State) []Problem {
	var c checker
	c.required("body", w.Body)
	for prop, v := range map[string]text{"body": w.Body, "from": w.From, "to": w.To, "service": w.Service,
		"channel": w.Channel, "attributes": w.Attributes} {
		c.template(prop, v)
	}
	return c.problems
}

func (*sendMessageWidget) Events() []string { return []string{"sent", "failed"} }

func (w *sendMessageWidget) Run(ctx context.Context, x *run) (result, error) {
	out, _, err := w.send(ctx, x)
	if err != nil {
		return result{Event: "failed", Output: failure(err)}, nil
	}
	return result{Event: "sent", Output: out}, nil
}

// send renders the message and posts it into the chat channel as the
// flow. The client message id is the execution and step, so a step run
// again after a crash posts nothing new.
func (w *sendMessageWidget) send(ctx context.Context, x *run) (map[string]any, outbound, error) {
	var m outbound
	var err error
	render := func(v text, fallback string) string {
		if err != nil {
			return ""
		}
		var s string
		if s, err = x.render(string(v)); err == nil && strings.TrimSpace(s) == "" {
			s = fallback
		}
		return s
	}
	trig := x.triggerMessage()
	m.Service = render(w.Service, str(trig["InstanceSid"]))
	m.Channel = render(w.Channel, str(trig["ChannelSid"]))
	m.From = render(w.From, x.flowAddress())
	m.Body = render(w.Body, "")
	m.Attributes = render(w.Attributes, "")
	if err != nil {
		return nil, m, err
	}
	if m.Channel == "" || m.Service == "" {
		return nil, m, errors.New("no chat channel to send to: the execution has no trigger message and the widget names no service and channel")
	}
	if m.Attributes != "" && !json.Valid([]byte(m.Attributes)) {
		return nil, m, errors.New("attributes is not valid JSON after rendering")
	}
	if x.svc.chat == nil {
		return nil, m, errors.New("chat is not available")
	}
	x.svc.own.add(m.Channel, m.From)
	raw, index, err := x.svc.chat.SendMessage(ctx, x.exec.AccountSID, m.Service, m.Channel, m.From, m.Body, m.Attributes, x.idempotencyKey())
	if err != nil {
		return nil, m, err
	}
	m.Index = index
	var sent struct {
		Sid string `json:"sid"`
	}
	_ = json.Unmarshal(raw, &sent)
	return map[string]any{"outbound": map[string]any{"Sid": sent.Sid, "Body": m.Body, "From": m.From,
		"To": m.Channel, "ChannelSid": m.Channel, "InstanceSid": m.Service, "Index": index}}, m, nil
}

type outbound struct {
	Service, Channel, From, Body, Attributes string
	Index                                    int64
}

// failure is a failed widget's output: why, for Steps and for the flow.
func failure(err error) map[string]any {
	msg := err.Error()
	if len(msg) > 500 {
		msg = msg[:500]
	}
	return map[string]any{"error": msg}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// ---- send-and-wait-for-reply ----

type sendAndWaitWidget struct {
	sendMessageWidget
	Timeout text `json:"timeout"`
}

func (w *sendAndWaitWidget) Validate(st State) []Problem {
	var c checker
	c.problems = w.sendMessageWidget.Validate(st)
	c.seconds("timeout", w.Timeout, maxReplyTimeout)
	return c.problems
}

func (*sendAndWaitWidget) Events() []string {
	return []string{"incomingMessage", "timeout", "deliveryFailure"}
}

func (w *sendAndWaitWidget) Run(ctx context.Context, x *run) (result, error) {
	timeout, err := w.timeout(x)
	if err != nil {
		return result{Event: "deliveryFailure", Output: failure(err)}, nil
	}
	out, m, err := w.send(ctx, x)
	if err != nil {
		return result{Event: "deliveryFailure", Output: failure(err)}, nil
	}
	return result{Output: out, Wait: &wait{Kind: waitReply, Timeout: timeout, AfterIndex: m.Index, ChannelSID: m.Channel}}, nil
}

func (w *sendAndWaitWidget) timeout(x *run) (time.Duration, error) {
	n, err := x.integer(w.Timeout, defaultReplyTimeout)
	if err != nil || n < 1 || n > maxReplyTimeout {
		return 0, errors.New("timeout is not a whole number of seconds from 1 to 604800")
	}
	return time.Duration(n) * time.Second, nil
}

// Resume is called with the visitor's reply, or nil on timeout.
func (w *sendAndWaitWidget) Resume(_ context.Context, x *run, reply *inbound) (result, error) {
	out := x.widgetOutput()
	if reply == nil {
		return result{Event: "timeout", Output: out}, nil
	}
	out["inbound"] = reply.context()
	return result{Event: "incomingMessage", Output: out}, nil
}

// ownSenders remembers the identities the engine posts as in each chat
// channel. Chat delivers every message of a channel with a studio webhook
// to Studio, the flow's own included, on the node that posted it; those
// must neither answer a wait nor start a new execution.
type ownSenders struct {
	mu sync.Mutex
	m  map[string]time.Time // channel + "\x00" + identity -> last post
}

const ownSenderTTL = time.Hour

func (o *ownSenders) add(channelSID, identity string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	if o.m == nil {
		o.m = map[string]time.Time{}
	}
	if len(o.m) > 100000 {
		for k, t := range o.m {
			if now.Sub(t) > ownSenderTTL {
				delete(o.m, k)
			}
		}
	}
	o.m[channelSID+"\x00"+identity] = now
}

func (o *ownSenders) has(channelSID, identity string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	t, ok := o.m[channelSID+"\x00"+identity]
	return ok && time.Since(t) < ownSenderTTL
}
