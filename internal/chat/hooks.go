package chat

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/webhook"
)

// Webhook events, as Twilio names them. Pre-events run before the action
// and may refuse it; post-events tell about it afterwards.
var (
	preEvents = []string{"onMessageSend", "onMessageUpdate", "onMessageRemove", "onMediaMessageSend",
		"onChannelAdd", "onChannelUpdate", "onChannelDestroy", "onMemberAdd", "onMemberUpdate",
		"onMemberRemove", "onUserUpdate"}
	postEvents = []string{"onMessageSent", "onMessageUpdated", "onMessageRemoved", "onMediaMessageSent",
		"onChannelAdded", "onChannelUpdated", "onChannelDestroyed", "onMemberAdded", "onMemberUpdated",
		"onMemberRemoved", "onUserAdded", "onUserUpdated"}
	// channelEvents are the post-events that concern one channel, the only
	// ones a channel webhook can receive.
	channelEvents = []string{"onMessageSent", "onMessageUpdated", "onMessageRemoved", "onChannelUpdated",
		"onChannelDestroyed", "onMemberAdded", "onMemberUpdated", "onMemberRemoved"}
)

// parseFilters checks a list of event names against allowed: each must be
// one of them (exact case, as Twilio's are), without repeats.
func parseFilters(param string, values []string, allowed []string) ([]string, error) {
	out := make([]string, 0, len(values))
	for _, v := range values {
		// Some clients send one comma-separated value instead of repeating.
		for _, name := range strings.Split(v, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if !slices.Contains(allowed, name) {
				if len(name) > 64 {
					name = name[:64] + "..."
				}
				return nil, rest.InvalidParam(param, "%q is not one of the webhook events %s", name, strings.Join(allowed, ", "))
			}
			if !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	return out, nil
}

// preTimeout bounds a pre-event webhook call, retries included, so that a
// slow endpoint cannot hold a sender for long.
const preTimeout = 12 * time.Second

// preResult is what a pre-event webhook may answer, as Twilio's does: a
// JSON body that replaces the message's body or attributes.
type preResult struct {
	Body       *string `json:"body"`
	Attributes *string `json:"attributes"`
}

// pre calls the service's pre-event webhook, when the action fires
// webhooks and the service asks for event. A non-2xx answer, or none at
// all, refuses the action.
func (s *Service) pre(ctx context.Context, c caller, in Instance, event string, params url.Values) (preResult, error) {
	var res preResult
	if !c.hooks || in.PreWebhookURL == "" || !slices.Contains(in.WebhookFilters, event) || s.hooks == nil {
		return res, nil
	}
	s.common(params, c, in, event)
	ctx, cancel := context.WithTimeout(ctx, preTimeout)
	defer cancel()
	answer, err := s.hooks.Call(ctx, webhook.Request{AccountSID: in.AccountSID, URL: in.PreWebhookURL,
		Method: in.WebhookMethod, Params: params, Retries: in.PreWebhookRetryCount})
	if err != nil {
		var we *webhook.Error
		if errors.As(err, &we) && we.Status != 0 {
			return res, rest.Forbidden("The %s webhook refused this action (it answered HTTP %d)", event, we.Status)
		}
		s.logger.WarnContext(ctx, "pre-event webhook failed", slog.String("event", event),
			slog.String("service_sid", in.SID), slog.Any("error", err))
		return res, rest.NewError(http.StatusServiceUnavailable, rest.CodeUnavailable,
			"The %s webhook could not be reached, so this action was not taken; try again later", event)
	}
	if strings.Contains(answer.ContentType, "json") && len(answer.Body) > 0 {
		_ = json.Unmarshal(answer.Body, &res) // an answer that is not our shape changes nothing
	}
	return res, nil
}

// common adds the parameters every Chat webhook carries. RetryCount is
// always 0: a retry resends the same signed request (internal/webhook).
func (s *Service) common(params url.Values, c caller, in Instance, event string) {
	params.Set("EventType", event)
	params.Set("AccountSid", in.AccountSID)
	params.Set("InstanceSid", in.SID)
	params.Set("Source", c.source)
	params.Set("RetryCount", "0")
	if c.identity != "" {
		params.Set("ClientIdentity", c.identity)
	}
}

// post tells about a committed action: the service's post-event webhook
// and the channel's own webhooks (Studio ones in-process). It never waits
// on an endpoint: webhook.Client.Send queues, Studio runs on its own queue.
func (s *Service) post(c caller, in Instance, hooks []Webhook, event string, params url.Values, msg *Message, ch *Channel) {
	if !c.hooks {
		return
	}
	if s.hooks != nil && in.PostWebhookURL != "" && slices.Contains(in.WebhookFilters, event) {
		p := clone(params)
		s.common(p, c, in, event)
		s.hooks.Send(webhook.Request{AccountSID: in.AccountSID, URL: in.PostWebhookURL, Method: in.WebhookMethod,
			Params: p, Retries: in.PostWebhookRetryCount})
	}
	for _, h := range hooks {
		s.channelHook(c, in, h, event, params, msg, ch)
	}
}

func (s *Service) channelHook(c caller, in Instance, h Webhook, event string, params url.Values, msg *Message, ch *Channel) {
	switch h.Type {
	case "webhook":
		if s.hooks == nil || !slices.Contains(h.Filters, event) {
			return
		}
	case "trigger":
		if s.hooks == nil || event != "onMessageSent" || msg == nil || !triggered(msg.Body, h.Triggers) {
			return
		}
	case "studio":
		if slices.Contains(h.Filters, event) && msg != nil && ch != nil {
			s.dispatchStudio(c, h, *msg, *ch)
		}
		return
	}
	p := clone(params)
	s.common(p, c, in, event)
	p.Set("WebhookSid", h.SID)
	p.Set("WebhookType", h.Type)
	s.hooks.Send(webhook.Request{AccountSID: in.AccountSID, URL: h.URL, Method: h.Method, Params: p, Retries: h.RetryCount})
}

// triggered reports whether body contains one of the trigger words, as a
// whole word and ignoring case.
func triggered(body string, triggers []string) bool {
	words := strings.FieldsFunc(strings.ToLower(body), func(r rune) bool {
		return !(r == '_' || r == '-' || r == '\'' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r > 127)
	})
	for _, t := range triggers {
		if slices.Contains(words, strings.ToLower(t)) {
			return true
		}
	}
	return false
}

func clone(v url.Values) url.Values {
	out := make(url.Values, len(v)+6)
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

func iso(ms int64) string {
	if ms == 0 {
		return ""
	}
	return rest.Millis(ms).Format(time.RFC3339)
}

// Webhook parameters of each resource, as Twilio's Chat webhooks name them.

func messageParams(m Message) url.Values {
	return url.Values{"ChannelSid": {m.ChannelSID}, "MessageSid": {m.SID}, "Index": {strconv.FormatInt(m.Index, 10)},
		"From": {m.From}, "Body": {m.Body}, "Attributes": {m.Attributes}, "DateCreated": {iso(m.Created)},
		"DateUpdated": {iso(m.Updated)}}
}

func draftParams(channelSID, from, body, attributes string) url.Values {
	return url.Values{"ChannelSid": {channelSID}, "From": {from}, "Body": {body}, "Attributes": {attributes}}
}

func channelParams(c Channel) url.Values {
	return url.Values{"ChannelSid": {c.SID}, "ChannelType": {c.Type}, "UniqueName": {c.UniqueName},
		"FriendlyName": {c.FriendlyName}, "Attributes": {c.Attributes}, "CreatedBy": {c.CreatedBy},
		"DateCreated": {iso(c.Created)}, "DateUpdated": {iso(c.Updated)}}
}

func memberParams(m Member) url.Values {
	p := url.Values{"ChannelSid": {m.ChannelSID}, "MemberSid": {m.SID}, "Identity": {m.Identity},
		"RoleSid": {m.RoleSID}, "DateCreated": {iso(m.Created)}, "DateUpdated": {iso(m.Updated)}}
	if m.LastConsumedMessageIndex != nil {
		p.Set("LastConsumedMessageIndex", strconv.FormatInt(*m.LastConsumedMessageIndex, 10))
	}
	return p
}

func userParams(u User) url.Values {
	return url.Values{"UserSid": {u.SID}, "Identity": {u.Identity}, "FriendlyName": {u.FriendlyName},
		"RoleSid": {u.RoleSID}, "Attributes": {u.Attributes}, "DateCreated": {iso(u.Created)},
		"DateUpdated": {iso(u.Updated)}}
}
