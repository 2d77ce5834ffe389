package chat

import (
	"github.com/parleychat/parley/internal/rest"
)

// JSON shapes of the Chat v2 resources, field for field as
// twilio_chat_v2.json names them. Every url and link is absolute on the
// public base URL. Events on the bus carry exactly these shapes too.

type serviceJSON struct {
	SID                          string            `json:"sid"`
	AccountSID                   string            `json:"account_sid"`
	FriendlyName                 string            `json:"friendly_name"`
	DateCreated                  rest.Time         `json:"date_created"`
	DateUpdated                  rest.Time         `json:"date_updated"`
	DefaultServiceRoleSID        *string           `json:"default_service_role_sid"`
	DefaultChannelRoleSID        *string           `json:"default_channel_role_sid"`
	DefaultChannelCreatorRoleSID *string           `json:"default_channel_creator_role_sid"`
	ReadStatusEnabled            bool              `json:"read_status_enabled"`
	ReachabilityEnabled          bool              `json:"reachability_enabled"`
	TypingIndicatorTimeout       int               `json:"typing_indicator_timeout"`
	ConsumptionReportInterval    int               `json:"consumption_report_interval"`
	Limits                       limitsJSON        `json:"limits"`
	PreWebhookURL                *string           `json:"pre_webhook_url"`
	PostWebhookURL               *string           `json:"post_webhook_url"`
	WebhookMethod                string            `json:"webhook_method"`
	WebhookFilters               []string          `json:"webhook_filters"`
	PreWebhookRetryCount         int               `json:"pre_webhook_retry_count"`
	PostWebhookRetryCount        int               `json:"post_webhook_retry_count"`
	Notifications                Notifications     `json:"notifications"`
	Media                        mediaJSON         `json:"media"`
	URL                          string            `json:"url"`
	Links                        map[string]string `json:"links"`
	seq                          int64
}

type limitsJSON struct {
	ChannelMembers int `json:"channel_members"`
	UserChannels   int `json:"user_channels"`
}

type mediaJSON struct {
	SizeLimitMB          int    `json:"size_limit_mb"`
	CompatibilityMessage string `json:"compatibility_message"`
}

type roleJSON struct {
	SID          string    `json:"sid"`
	AccountSID   string    `json:"account_sid"`
	ServiceSID   string    `json:"service_sid"`
	FriendlyName string    `json:"friendly_name"`
	Type         string    `json:"type"`
	Permissions  []string  `json:"permissions"`
	DateCreated  rest.Time `json:"date_created"`
	DateUpdated  rest.Time `json:"date_updated"`
	URL          string    `json:"url"`
	seq          int64
}

type userJSON struct {
	SID                 string            `json:"sid"`
	AccountSID          string            `json:"account_sid"`
	ServiceSID          string            `json:"service_sid"`
	Attributes          string            `json:"attributes"`
	FriendlyName        *string           `json:"friendly_name"`
	RoleSID             *string           `json:"role_sid"`
	Identity            string            `json:"identity"`
	IsOnline            *bool             `json:"is_online"`
	IsNotifiable        *bool             `json:"is_notifiable"`
	DateCreated         rest.Time         `json:"date_created"`
	DateUpdated         rest.Time         `json:"date_updated"`
	JoinedChannelsCount int               `json:"joined_channels_count"`
	Links               map[string]string `json:"links"`
	URL                 string            `json:"url"`
	seq                 int64
}

type channelJSON struct {
	SID           string         `json:"sid"`
	AccountSID    string         `json:"account_sid"`
	ServiceSID    string         `json:"service_sid"`
	FriendlyName  *string        `json:"friendly_name"`
	UniqueName    *string        `json:"unique_name"`
	Attributes    string         `json:"attributes"`
	Type          string         `json:"type"`
	DateCreated   rest.Time      `json:"date_created"`
	DateUpdated   rest.Time      `json:"date_updated"`
	CreatedBy     string         `json:"created_by"`
	MembersCount  int            `json:"members_count"`
	MessagesCount int            `json:"messages_count"`
	URL           string         `json:"url"`
	Links         map[string]any `json:"links"`
	seq           int64
}

type memberJSON struct {
	SID                      string    `json:"sid"`
	AccountSID               string    `json:"account_sid"`
	ChannelSID               string    `json:"channel_sid"`
	ServiceSID               string    `json:"service_sid"`
	Identity                 string    `json:"identity"`
	DateCreated              rest.Time `json:"date_created"`
	DateUpdated              rest.Time `json:"date_updated"`
	RoleSID                  *string   `json:"role_sid"`
	LastConsumedMessageIndex *int64    `json:"last_consumed_message_index"`
	LastConsumptionTimestamp rest.Time `json:"last_consumption_timestamp"`
	URL                      string    `json:"url"`
	Attributes               string    `json:"attributes"`
	seq                      int64
}

type messageJSON struct {
	SID           string    `json:"sid"`
	AccountSID    string    `json:"account_sid"`
	Attributes    string    `json:"attributes"`
	ServiceSID    string    `json:"service_sid"`
	To            string    `json:"to"`
	ChannelSID    string    `json:"channel_sid"`
	DateCreated   rest.Time `json:"date_created"`
	DateUpdated   rest.Time `json:"date_updated"`
	LastUpdatedBy *string   `json:"last_updated_by"`
	WasEdited     bool      `json:"was_edited"`
	From          string    `json:"from"`
	Body          string    `json:"body"`
	Index         int64     `json:"index"`
	Type          string    `json:"type"`
	Media         any       `json:"media"`
	URL           string    `json:"url"`
	seq           int64
}

type webhookJSON struct {
	SID           string            `json:"sid"`
	AccountSID    string            `json:"account_sid"`
	ServiceSID    string            `json:"service_sid"`
	ChannelSID    string            `json:"channel_sid"`
	Type          string            `json:"type"`
	URL           string            `json:"url"`
	Configuration webhookConfigJSON `json:"configuration"`
	DateCreated   rest.Time         `json:"date_created"`
	DateUpdated   rest.Time         `json:"date_updated"`
	seq           int64
}

type webhookConfigJSON struct {
	URL        string   `json:"url,omitempty"`
	Method     string   `json:"method"`
	Filters    []string `json:"filters,omitempty"`
	Triggers   []string `json:"triggers,omitempty"`
	FlowSID    string   `json:"flow_sid,omitempty"`
	RetryCount int      `json:"retry_count"`
}

func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func ts(ms int64) rest.Time { return rest.Time(rest.Millis(ms)) }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// paths builds the resource paths every url and link is made of.
func servicePath(is string) string         { return "/chat/v2/Services/" + is }
func channelPath(is, ch string) string     { return servicePath(is) + "/Channels/" + ch }
func memberPath(is, ch, mb string) string  { return channelPath(is, ch) + "/Members/" + mb }
func messagePath(is, ch, im string) string { return channelPath(is, ch) + "/Messages/" + im }
func webhookPath(is, ch, wh string) string { return channelPath(is, ch) + "/Webhooks/" + wh }
func userPath(is, us string) string        { return servicePath(is) + "/Users/" + us }
func rolePath(is, rl string) string        { return servicePath(is) + "/Roles/" + rl }

func (s *Service) serviceJSON(in Instance) serviceJSON {
	u := s.url(servicePath(in.SID))
	return serviceJSON{SID: in.SID, AccountSID: in.AccountSID, FriendlyName: in.FriendlyName,
		DateCreated: ts(in.Created), DateUpdated: ts(in.Updated),
		DefaultServiceRoleSID: orNull(in.DefaultServiceRoleSID), DefaultChannelRoleSID: orNull(in.DefaultChannelRoleSID),
		DefaultChannelCreatorRoleSID: orNull(in.DefaultChannelCreatorRoleSID),
		ReadStatusEnabled:            in.ReadStatusEnabled, ReachabilityEnabled: in.ReachabilityEnabled,
		TypingIndicatorTimeout: in.TypingIndicatorTimeout, ConsumptionReportInterval: in.ConsumptionReportInterval,
		Limits:        limitsJSON{ChannelMembers: in.LimitChannelMembers, UserChannels: in.LimitUserChannels},
		PreWebhookURL: orNull(in.PreWebhookURL), PostWebhookURL: orNull(in.PostWebhookURL),
		WebhookMethod: in.WebhookMethod, WebhookFilters: nonNil(in.WebhookFilters),
		PreWebhookRetryCount: in.PreWebhookRetryCount, PostWebhookRetryCount: in.PostWebhookRetryCount,
		Notifications: in.Notifications,
		Media:         mediaJSON{SizeLimitMB: 150, CompatibilityMessage: in.MediaCompatibilityMessage},
		URL:           u,
		Links:         map[string]string{"channels": u + "/Channels", "roles": u + "/Roles", "users": u + "/Users", "bindings": u + "/Bindings"},
		seq:           in.Seq}
}

func (s *Service) roleJSON(r Role) roleJSON {
	return roleJSON{SID: r.SID, AccountSID: r.AccountSID, ServiceSID: r.ServiceSID, FriendlyName: r.FriendlyName,
		Type: r.Type, Permissions: nonNil(r.Permissions), DateCreated: ts(r.Created), DateUpdated: ts(r.Updated),
		URL: s.url(rolePath(r.ServiceSID, r.SID)), seq: r.Seq}
}

func (s *Service) userJSON(u User) userJSON {
	self := s.url(userPath(u.ServiceSID, u.SID))
	return userJSON{SID: u.SID, AccountSID: u.AccountSID, ServiceSID: u.ServiceSID, Attributes: u.Attributes,
		FriendlyName: orNull(u.FriendlyName), RoleSID: orNull(u.RoleSID), Identity: u.Identity,
		DateCreated: ts(u.Created), DateUpdated: ts(u.Updated), JoinedChannelsCount: u.JoinedChannels,
		Links: map[string]string{"user_channels": self + "/Channels", "user_bindings": self + "/Bindings"},
		URL:   self, seq: u.Seq}
}

func (s *Service) channelJSON(c Channel) channelJSON {
	self := s.url(channelPath(c.ServiceSID, c.SID))
	links := map[string]any{"members": self + "/Members", "messages": self + "/Messages",
		"invites": self + "/Invites", "webhooks": self + "/Webhooks", "last_message": nil}
	return channelJSON{SID: c.SID, AccountSID: c.AccountSID, ServiceSID: c.ServiceSID,
		FriendlyName: orNull(c.FriendlyName), UniqueName: orNull(c.UniqueName), Attributes: c.Attributes,
		Type: c.Type, DateCreated: ts(c.Created), DateUpdated: ts(c.Updated), CreatedBy: c.CreatedBy,
		MembersCount: c.MembersCount, MessagesCount: c.MessagesCount, URL: self, Links: links, seq: c.Seq}
}

func (s *Service) memberJSON(m Member) memberJSON {
	return memberJSON{SID: m.SID, AccountSID: m.AccountSID, ChannelSID: m.ChannelSID, ServiceSID: m.ServiceSID,
		Identity: m.Identity, DateCreated: ts(m.Created), DateUpdated: ts(m.Updated), RoleSID: orNull(m.RoleSID),
		LastConsumedMessageIndex: m.LastConsumedMessageIndex, LastConsumptionTimestamp: ts(m.LastConsumptionTimestamp),
		URL: s.url(memberPath(m.ServiceSID, m.ChannelSID, m.SID)), Attributes: m.Attributes, seq: m.Seq}
}

func (s *Service) messageJSON(m Message) messageJSON {
	return messageJSON{SID: m.SID, AccountSID: m.AccountSID, Attributes: m.Attributes, ServiceSID: m.ServiceSID,
		To: m.ChannelSID, ChannelSID: m.ChannelSID, DateCreated: ts(m.Created), DateUpdated: ts(m.Updated),
		LastUpdatedBy: orNull(m.LastUpdatedBy), WasEdited: m.WasEdited, From: m.From, Body: m.Body,
		Index: m.Index, Type: "text", URL: s.url(messagePath(m.ServiceSID, m.ChannelSID, m.SID)), seq: m.Seq}
}

func (s *Service) webhookJSON(w Webhook) webhookJSON {
	return webhookJSON{SID: w.SID, AccountSID: w.AccountSID, ServiceSID: w.ServiceSID, ChannelSID: w.ChannelSID,
		Type: w.Type, URL: s.url(webhookPath(w.ServiceSID, w.ChannelSID, w.SID)),
		Configuration: webhookConfigJSON{URL: w.URL, Method: w.Method, Filters: w.Filters, Triggers: w.Triggers,
			FlowSID: w.FlowSID, RetryCount: w.RetryCount},
		DateCreated: ts(w.Created), DateUpdated: ts(w.Updated), seq: w.Seq}
}
