package flex

import (
	"context"
	"errors"
	"fmt"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

// DefaultFlowName is the Flex Flow the default setup creates.
const DefaultFlowName = "Flex Web Channel Flow"

// Setup is what the default setup found or created for an account.
type Setup struct {
	ChatServiceSID string
	WorkspaceSID   string
	WorkflowSID    string
	TaskChannel    string
	StudioFlowSID  string
	FlexFlowSID    string
	Created        bool // the Flex Flow was created by this call
	AccountSID     string
}

// EnsureDefaults gives the account Twilio's standard Flex setup, creating
// what is missing: the "Flex Chat Service", the "Flex Task Assignment"
// workspace, the "Webchat Flow" Studio flow and the "Flex Web Channel
// Flow" (web, studio, janitor on). It is safe on every start and on
// several nodes at once (each part is find-or-create on a unique key).
func (s *Service) EnsureDefaults(ctx context.Context, accountSID string) (Setup, error) {
	d := s.deps.Defaults
	if d == nil {
		return Setup{}, errors.New("flex: default setup is not wired")
	}
	out := Setup{AccountSID: accountSID}
	var err error
	if out.ChatServiceSID, err = d.ChatService(ctx, accountSID); err != nil {
		return out, fmt.Errorf("flex: default chat service: %w", err)
	}
	if out.WorkspaceSID, out.WorkflowSID, out.TaskChannel, err = d.Workspace(ctx, accountSID); err != nil {
		return out, fmt.Errorf("flex: default workspace: %w", err)
	}
	if out.StudioFlowSID, err = d.WebchatFlow(ctx, accountSID, out.WorkspaceSID, out.WorkflowSID, out.TaskChannel); err != nil {
		return out, fmt.Errorf("flex: default studio flow: %w", err)
	}
	flow, created, err := s.defaultFlow(ctx, accountSID, out)
	out.FlexFlowSID, out.Created = flow.SID, created
	return out, err
}

func (s *Service) defaultFlow(ctx context.Context, accountSID string, d Setup) (Flow, bool, error) {
	f, err := s.st.defaultFlow(ctx, s.db, accountSID)
	if err == nil || !errors.Is(err, store.ErrNotFound) {
		return f, false, err
	}
	now := store.Now()
	retry := DefaultRetryCount
	f = Flow{SID: rest.NewSID("FO"), AccountSID: accountSID, FriendlyName: DefaultFlowName, ChatServiceSID: d.ChatServiceSID,
		ChannelType: "web", Enabled: true, IntegrationType: IntegrationStudio,
		Integration: Integration{FlowSID: d.StudioFlowSID, RetryCount: &retry}, JanitorEnabled: true, Created: now, Updated: now}
	err = s.st.insertFlow(ctx, s.db, f, accountSID)
	if errors.Is(err, store.ErrConflict) { // another node created it first
		f, err = s.st.defaultFlow(ctx, s.db, accountSID)
		return f, false, err
	}
	return f, err == nil, err
}

// DefaultFlow returns the account's default Flex Flow, if it has one.
func (s *Service) DefaultFlow(ctx context.Context, accountSID string) (Flow, error) {
	f, err := s.st.defaultFlow(ctx, s.db, accountSID)
	return f, notFound(err)
}

// EmbedSnippet is the HTML a website adds to show the chat widget for a flow.
func EmbedSnippet(baseURL, accountSID, flexFlowSID string) string {
	return fmt.Sprintf(`<script src="%s/webchat.js" data-account-sid="%s" data-flex-flow-sid="%s" async></script>`,
		baseURL, accountSID, flexFlowSID)
}
