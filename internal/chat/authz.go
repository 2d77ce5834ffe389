package chat

import (
	"net/http"
	"strings"

	"github.com/parleychat/parley/internal/rest"
)

// caller is who acts, reduced to what chat's rules need.
//
// Account credentials and API keys (admin) may do everything in their
// account. An access token acts only inside its ChatServiceSID, and only on
// channels where its identity is a member: it may read them, read their
// members and messages, send messages (From is always its identity), edit
// or delete its own messages, and update or delete its own member record.
// It may fetch its own user and update its name and attributes. Everything
// else (creating channels, adding members, webhooks, roles, services) needs
// account credentials.
type caller struct {
	account  string
	admin    bool
	identity string
	// scope is the token's ChatServiceSID ("" for admins).
	scope string
	// source is Twilio's webhook Source: "API" for REST with account
	// credentials, "SDK" for access tokens and in-process client sends.
	source string
	// hooks says whether this action fires webhooks. Twilio fires them for
	// SDK actions, and for REST actions only with X-Twilio-Webhook-Enabled.
	hooks bool
}

func callerFrom(r *http.Request) caller {
	p := rest.PrincipalFrom(r.Context())
	c := caller{account: p.AccountSID, admin: p.Admin, identity: p.Identity, source: "API"}
	if !p.Admin {
		c.scope, c.source = p.ChatServiceSID, "SDK"
	}
	c.hooks = c.source == "SDK" || strings.EqualFold(r.Header.Get("X-Twilio-Webhook-Enabled"), "true")
	return c
}

// system is an in-process caller acting for a client (realtime) or for
// another part of Parley: it may do anything in the account and, acting as
// the SDK, fires webhooks.
func system(accountSID string) caller {
	return caller{account: accountSID, admin: true, source: "SDK", hooks: true}
}

// inService refuses a token whose grant names another chat service.
func (c caller) inService(serviceSID string) error {
	if c.admin || c.scope == serviceSID {
		return nil
	}
	if c.scope == "" {
		return rest.Forbidden("This access token has no chat grant; add a ChatGrant with service_sid %s", serviceSID)
	}
	return rest.Forbidden("This access token is for chat service %s, not %s", c.scope, serviceSID)
}

func (c caller) requireAdmin(what string) error {
	if c.admin {
		return nil
	}
	return rest.Forbidden("An access token may not %s; use account credentials or an API key", what)
}

// notMember is the answer to a token that is not a member of the channel.
func notMember(identity, channelSID string) *rest.Error {
	return rest.Forbidden("Identity %q is not a member of channel %s", identity, channelSID)
}
