package flex

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

// Integration types and channel types (flex_flow_enum_*).
const (
	IntegrationStudio   = "studio"
	IntegrationExternal = "external"
	IntegrationTask     = "task"
)

// ChannelTypes are the values ChannelType takes.
var ChannelTypes = []string{"web", "sms", "facebook", "whatsapp", "line", "custom"}

// IntegrationTypes are the values IntegrationType takes.
var IntegrationTypes = []string{IntegrationStudio, IntegrationExternal, IntegrationTask}

// Defaults Twilio documents for the integration's optional settings.
const (
	DefaultTaskChannel = "default"
	DefaultTaskTimeout = 86400
	DefaultRetryCount  = 3
)

// Integration is what handles a flow's conversations. Its JSON is the
// flow's `integration` object: only the settings that were given.
type Integration struct {
	FlowSID           string `json:"flow_sid,omitempty"`
	URL               string `json:"url,omitempty"`
	WorkspaceSID      string `json:"workspace_sid,omitempty"`
	WorkflowSID       string `json:"workflow_sid,omitempty"`
	Channel           string `json:"channel,omitempty"`
	Timeout           *int   `json:"timeout,omitempty"`
	Priority          *int   `json:"priority,omitempty"`
	CreationOnMessage *bool  `json:"creation_on_message,omitempty"`
	RetryCount        *int   `json:"retry_count,omitempty"`
}

// Flow is a Flex Flow (FO).
type Flow struct {
	Seq             int64
	SID             string
	AccountSID      string
	FriendlyName    string
	ChatServiceSID  string
	ChannelType     string
	ContactIdentity string
	Enabled         bool
	IntegrationType string
	Integration     Integration
	LongLived       bool
	JanitorEnabled  bool
	Created         int64
	Updated         int64
}

func (i Integration) taskChannel() string {
	if i.Channel == "" {
		return DefaultTaskChannel
	}
	return i.Channel
}

func (i Integration) timeout() int  { return intOr(i.Timeout, DefaultTaskTimeout) }
func (i Integration) priority() int { return intOr(i.Priority, 0) }
func (i Integration) retries() int  { return intOr(i.RetryCount, DefaultRetryCount) }
func (i Integration) onMessage() bool {
	return i.CreationOnMessage != nil && *i.CreationOnMessage
}

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// FlowInput is a create or update: nil fields are not given.
type FlowInput struct {
	FriendlyName    *string
	ChatServiceSID  *string
	ChannelType     *string
	ContactIdentity *string
	Enabled         *bool
	IntegrationType *string
	Integration     IntegrationInput
	LongLived       *bool
	JanitorEnabled  *bool
}

// IntegrationInput holds the Integration.* parameters that were given.
type IntegrationInput struct {
	FlowSID, URL, WorkspaceSID, WorkflowSID, Channel *string
	Timeout, Priority, RetryCount                    *int
	CreationOnMessage                                *bool
}

// apply merges in onto f. When the integration type changes, settings
// that belong to the old type are dropped unless given again.
func (in FlowInput) apply(f *Flow) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&f.FriendlyName, in.FriendlyName)
	set(&f.ChatServiceSID, in.ChatServiceSID)
	set(&f.ChannelType, in.ChannelType)
	set(&f.ContactIdentity, in.ContactIdentity)
	if in.IntegrationType != nil && *in.IntegrationType != f.IntegrationType {
		f.Integration = Integration{}
	}
	set(&f.IntegrationType, in.IntegrationType)
	ii, fi := in.Integration, &f.Integration
	set(&fi.FlowSID, ii.FlowSID)
	set(&fi.URL, ii.URL)
	set(&fi.WorkspaceSID, ii.WorkspaceSID)
	set(&fi.WorkflowSID, ii.WorkflowSID)
	set(&fi.Channel, ii.Channel)
	for _, p := range []struct {
		dst **int
		src *int
	}{{&fi.Timeout, ii.Timeout}, {&fi.Priority, ii.Priority}, {&fi.RetryCount, ii.RetryCount}} {
		if p.src != nil {
			v := *p.src
			*p.dst = &v
		}
	}
	for _, p := range []struct{ dst, src *bool }{{&f.Enabled, in.Enabled}, {&f.LongLived, in.LongLived}, {&f.JanitorEnabled, in.JanitorEnabled}} {
		if p.src != nil {
			*p.dst = *p.src
		}
	}
	if ii.CreationOnMessage != nil {
		v := *ii.CreationOnMessage
		fi.CreationOnMessage = &v
	}
}

// fit checks that the integration's settings belong to its type and that
// the required ones are there. Parameter names are the REST ones.
func (f Flow) fit() error {
	i := f.Integration
	given := map[string]bool{
		"Integration.FlowSid": i.FlowSID != "", "Integration.Url": i.URL != "",
		"Integration.WorkspaceSid": i.WorkspaceSID != "", "Integration.WorkflowSid": i.WorkflowSID != "",
		"Integration.Channel": i.Channel != "", "Integration.Timeout": i.Timeout != nil, "Integration.Priority": i.Priority != nil,
		"Integration.CreationOnMessage": i.CreationOnMessage != nil, "Integration.RetryCount": i.RetryCount != nil,
	}
	var required, allowed []string
	switch f.IntegrationType {
	case IntegrationStudio:
		required, allowed = []string{"Integration.FlowSid"}, []string{"Integration.RetryCount"}
	case IntegrationExternal:
		required, allowed = []string{"Integration.Url"}, []string{"Integration.RetryCount"}
	case IntegrationTask:
		required = []string{"Integration.WorkspaceSid", "Integration.WorkflowSid"}
		allowed = []string{"Integration.Channel", "Integration.Timeout", "Integration.Priority", "Integration.CreationOnMessage"}
	}
	for _, name := range required {
		if !given[name] {
			return rest.BadRequest("Missing required parameter %s: IntegrationType %s needs it", name, f.IntegrationType)
		}
		given[name] = false
	}
	for _, name := range allowed {
		given[name] = false
	}
	for _, name := range slices.Sorted(maps.Keys(given)) {
		if given[name] {
			if f.IntegrationType == "" {
				return rest.InvalidParam(name, "needs an IntegrationType")
			}
			return rest.InvalidParam(name, "does not apply to IntegrationType %s", f.IntegrationType)
		}
	}
	return nil
}

// checkRefs checks that the SIDs the flow names exist in its own account.
func (s *Service) checkRefs(ctx context.Context, f Flow) error {
	if s.deps.Chat == nil {
		return errors.New("flex: chat is not wired")
	}
	ok, err := s.deps.Chat.ServiceExists(ctx, f.AccountSID, f.ChatServiceSID)
	if err != nil {
		return err
	}
	if !ok {
		return rest.InvalidParam("ChatServiceSid", "chat service %s was not found in this account", f.ChatServiceSID)
	}
	i := f.Integration
	switch f.IntegrationType {
	case IntegrationStudio:
		if s.deps.Studio == nil {
			return rest.InvalidParam("IntegrationType", "studio is not available on this server")
		}
		ok, err = s.deps.Studio.FlowExists(ctx, f.AccountSID, i.FlowSID)
		if err == nil && !ok {
			return rest.InvalidParam("Integration.FlowSid", "Studio flow %s was not found in this account", i.FlowSID)
		}
	case IntegrationTask:
		if s.deps.Tasks == nil {
			return rest.InvalidParam("IntegrationType", "task is not available on this server")
		}
		ok, err = s.deps.Tasks.WorkflowExists(ctx, f.AccountSID, i.WorkspaceSID, i.WorkflowSID)
		if err == nil && !ok {
			return rest.InvalidParam("Integration.WorkflowSid", "workflow %s was not found in workspace %s of this account", i.WorkflowSID, i.WorkspaceSID)
		}
	}
	return err
}

func (s *Service) validate(ctx context.Context, f Flow) error {
	if err := f.fit(); err != nil {
		return err
	}
	return s.checkRefs(ctx, f)
}

// CreateFlow creates a Flex Flow. FriendlyName, ChatServiceSid and
// ChannelType are required (the handler checks they are given).
func (s *Service) CreateFlow(ctx context.Context, accountSID string, in FlowInput) (Flow, error) {
	now := store.Now()
	f := Flow{SID: rest.NewSID("FO"), AccountSID: accountSID, Enabled: false, Created: now, Updated: now}
	in.apply(&f)
	if err := s.validate(ctx, f); err != nil {
		return Flow{}, err
	}
	return f, s.st.insertFlow(ctx, s.db, f, "")
}

// UpdateFlow changes the given settings of a flow.
func (s *Service) UpdateFlow(ctx context.Context, accountSID, sid string, in FlowInput) (Flow, error) {
	f, err := s.Flow(ctx, accountSID, sid)
	if err != nil {
		return Flow{}, err
	}
	in.apply(&f)
	f.Updated = store.Now()
	if err := s.validate(ctx, f); err != nil {
		return Flow{}, err
	}
	return f, notFound(s.st.updateFlow(ctx, f))
}

// Flow reads one flow of the account.
func (s *Service) Flow(ctx context.Context, accountSID, sid string) (Flow, error) {
	f, err := s.st.flow(ctx, accountSID, sid)
	if err != nil {
		return Flow{}, fmt.Errorf("flex: flow %s: %w", sid, notFound(err))
	}
	return f, nil
}

// Flows reads one page of the account's flows (friendlyName "" for all).
func (s *Service) Flows(ctx context.Context, accountSID, friendlyName string, p rest.Page) ([]Flow, error) {
	return s.st.flows(ctx, accountSID, friendlyName, p.After, p.Before, p.Fetch())
}

// DeleteFlow deletes a flow. Its channels stay (as conversations in chat)
// but get no integration any more.
func (s *Service) DeleteFlow(ctx context.Context, accountSID, sid string) error {
	return notFound(s.st.deleteFlow(ctx, accountSID, sid))
}
