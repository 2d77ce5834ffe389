package chat

// The Chat v2 resources as the store keeps them. Times are unix
// milliseconds; JSON rendering (json.go) turns them into Twilio's shape.

// Instance is a Chat Service (IS). Twilio's webhook payloads call its SID
// InstanceSid; the name also keeps it apart from *Service, the domain.
type Instance struct {
	Seq                          int64
	SID                          string
	AccountSID                   string
	FriendlyName                 string
	DefaultServiceRoleSID        string
	DefaultChannelRoleSID        string
	DefaultChannelCreatorRoleSID string
	ReadStatusEnabled            bool
	ReachabilityEnabled          bool
	TypingIndicatorTimeout       int
	ConsumptionReportInterval    int
	LimitChannelMembers          int
	LimitUserChannels            int
	PreWebhookURL                string
	PostWebhookURL               string
	WebhookMethod                string
	WebhookFilters               []string
	PreWebhookRetryCount         int
	PostWebhookRetryCount        int
	Notifications                Notifications
	MediaCompatibilityMessage    string
	Created, Updated             int64
}

// Notifications is a service's push-notification settings. Parley sends no
// push notifications; it keeps and returns the settings as Twilio does.
type Notifications struct {
	NewMessage         NotifyEvent `json:"new_message"`
	AddedToChannel     NotifyEvent `json:"added_to_channel"`
	RemovedFromChannel NotifyEvent `json:"removed_from_channel"`
	InvitedToChannel   NotifyEvent `json:"invited_to_channel"`
	LogEnabled         bool        `json:"log_enabled"`
}

// NotifyEvent is one notification's settings.
type NotifyEvent struct {
	Enabled           bool   `json:"enabled"`
	Template          string `json:"template,omitempty"`
	Sound             string `json:"sound,omitempty"`
	BadgeCountEnabled *bool  `json:"badge_count_enabled,omitempty"`
}

// Role is a Chat role (RL). Parley records roles and assigns the defaults;
// what a caller may do is decided by its credentials (see authz.go).
type Role struct {
	Seq              int64
	SID              string
	AccountSID       string
	ServiceSID       string
	FriendlyName     string
	Type             string // channel | deployment
	Permissions      []string
	Created, Updated int64
}

// User is a Chat user (US).
type User struct {
	Seq              int64
	SID              string
	AccountSID       string
	ServiceSID       string
	Identity         string
	FriendlyName     string
	Attributes       string
	RoleSID          string
	JoinedChannels   int
	Created, Updated int64
}

// Channel is a Chat channel (CH).
type Channel struct {
	Seq              int64
	SID              string
	AccountSID       string
	ServiceSID       string
	FriendlyName     string
	UniqueName       string
	Attributes       string
	Type             string // public | private
	CreatedBy        string
	MembersCount     int
	MessagesCount    int
	NextIndex        int64
	Created, Updated int64
}

// Member is a channel member (MB).
type Member struct {
	Seq                      int64
	SID                      string
	AccountSID               string
	ServiceSID               string
	ChannelSID               string
	Identity                 string
	RoleSID                  string
	LastConsumedMessageIndex *int64
	LastConsumptionTimestamp int64
	Attributes               string
	Created, Updated         int64
}

// Message is a channel message (IM).
type Message struct {
	Seq              int64
	SID              string
	AccountSID       string
	ServiceSID       string
	ChannelSID       string
	Index            int64
	From             string
	Body             string
	Attributes       string
	LastUpdatedBy    string
	WasEdited        bool
	ClientMessageID  string
	Created, Updated int64
}

// Webhook is a channel webhook (WH).
type Webhook struct {
	Seq              int64
	SID              string
	AccountSID       string
	ServiceSID       string
	ChannelSID       string
	Type             string // webhook | trigger | studio
	URL              string
	Method           string
	Filters          []string
	Triggers         []string
	FlowSID          string
	RetryCount       int
	Created, Updated int64
}
