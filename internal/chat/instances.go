package chat

import (
	"context"
	"errors"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

// Service defaults, as Twilio documents them.
const (
	defaultChannelMembers  = 250
	defaultUserChannels    = 100
	maxServiceLimit        = 1000
	defaultTypingTimeout   = 5
	defaultFlexServiceName = "Flex Chat Service"
)

// defaultRoles are the four roles Twilio gives every new service.
var defaultRoles = []struct {
	name, typ string
	perms     []string
}{
	{"service admin", "deployment", []string{"createChannel", "joinChannel", "destroyChannel", "inviteMember",
		"removeMember", "editChannelName", "editChannelAttributes", "addMember", "editAnyMessage",
		"editAnyMessageAttributes", "deleteAnyMessage", "editAnyUserInfo", "editOwnUserInfo"}},
	{"service user", "deployment", []string{"createChannel", "joinChannel", "destroyChannel", "inviteMember",
		"editOwnUserInfo"}},
	{"channel admin", "channel", []string{"sendMessage", "sendMediaMessage", "leaveChannel", "editOwnMessage",
		"editOwnMessageAttributes", "deleteOwnMessage", "inviteMember", "removeMember", "editChannelName",
		"editChannelAttributes", "addMember", "editAnyMessage", "editAnyMessageAttributes", "deleteAnyMessage",
		"editAnyMemberAttributes", "editOwnMemberAttributes"}},
	{"channel user", "channel", []string{"sendMessage", "sendMediaMessage", "leaveChannel", "editOwnMessage",
		"editOwnMessageAttributes", "deleteOwnMessage", "editOwnMemberAttributes"}},
}

func newInstance(accountSID, name string) (Instance, []Role) {
	now := store.Now()
	in := Instance{SID: rest.NewSID("IS"), AccountSID: accountSID, FriendlyName: name, ReadStatusEnabled: true,
		TypingIndicatorTimeout: defaultTypingTimeout, LimitChannelMembers: defaultChannelMembers,
		LimitUserChannels: defaultUserChannels, WebhookMethod: "POST", WebhookFilters: []string{},
		Created: now, Updated: now}
	roles := make([]Role, len(defaultRoles))
	for i, d := range defaultRoles {
		roles[i] = Role{SID: rest.NewSID("RL"), AccountSID: accountSID, ServiceSID: in.SID, FriendlyName: d.name,
			Type: d.typ, Permissions: d.perms, Created: now, Updated: now}
	}
	in.DefaultServiceRoleSID = roles[1].SID
	in.DefaultChannelCreatorRoleSID = roles[2].SID
	in.DefaultChannelRoleSID = roles[3].SID
	return in, roles
}

func (s *Service) insertInstance(ctx context.Context, in Instance, roles []Role, defaultFor string) error {
	return s.db.InTx(ctx, func(q store.Querier) error {
		if err := insertInstance(ctx, q, in, defaultFor); err != nil {
			return err
		}
		for _, r := range roles {
			if err := insertRole(ctx, q, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// CreateInstance makes a chat service with Twilio's default roles.
func (s *Service) createInstance(ctx context.Context, c caller, name string) (Instance, error) {
	if err := c.requireAdmin("create chat services"); err != nil {
		return Instance{}, err
	}
	in, roles := newInstance(c.account, name)
	return in, wrap("create service", s.insertInstance(ctx, in, roles, ""))
}

// DefaultChatService finds or creates the account's "Flex Chat Service"
// and returns its IS SID. Concurrent first calls create one service: the
// loser of the unique default_for race reads the winner's.
func (s *Service) DefaultChatService(ctx context.Context, accountSID string) (string, error) {
	in, err := defaultInstance(ctx, s.db, accountSID)
	if err == nil {
		return in.SID, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return "", wrap("default service", err)
	}
	in, roles := newInstance(accountSID, defaultFlexServiceName)
	err = s.insertInstance(ctx, in, roles, accountSID)
	if errors.Is(err, store.ErrConflict) {
		in, err = defaultInstance(ctx, s.db, accountSID)
	}
	return in.SID, wrap("default service", err)
}

func (s *Service) listInstances(ctx context.Context, c caller, p rest.Page) ([]Instance, error) {
	if err := c.requireAdmin("list chat services"); err != nil {
		return nil, err
	}
	out, err := listInstances(ctx, s.db, c.account, p.After, p.Before, p.Fetch())
	return out, wrap("list services", err)
}

// updateInstance applies patch (validated by the caller) and checks that
// the default role SIDs name roles of this service.
func (s *Service) updateInstance(ctx context.Context, c caller, sid string, patch func(*Instance) error) (Instance, error) {
	if err := c.requireAdmin("change chat services"); err != nil {
		return Instance{}, err
	}
	in, err := s.instance(ctx, c, sid)
	if err != nil {
		return in, err
	}
	if err := patch(&in); err != nil {
		return in, err
	}
	for param, rl := range map[string]string{"DefaultServiceRoleSid": in.DefaultServiceRoleSID,
		"DefaultChannelRoleSid": in.DefaultChannelRoleSID, "DefaultChannelCreatorRoleSid": in.DefaultChannelCreatorRoleSID} {
		if err := s.checkRole(ctx, in.SID, param, rl); err != nil {
			return in, err
		}
	}
	in.Updated = store.Now()
	return in, wrap("update service", notFound(updateInstance(ctx, s.db, in), "Service", sid))
}

func (s *Service) checkRole(ctx context.Context, serviceSID, param, roleSID string) error {
	if roleSID == "" {
		return nil
	}
	if _, err := getRole(ctx, s.db, serviceSID, roleSID); errors.Is(err, store.ErrNotFound) {
		return rest.InvalidParam(param, "role %s does not exist in service %s", roleSID, serviceSID)
	} else if err != nil {
		return err
	}
	return nil
}

// deleteInstance removes a service and, by cascade, everything in it;
// each of its channels is announced as removed, so live sockets let go.
func (s *Service) deleteInstance(ctx context.Context, c caller, sid string) error {
	if err := c.requireAdmin("delete chat services"); err != nil {
		return err
	}
	var channels []Channel
	err := s.db.InTx(ctx, func(q store.Querier) error {
		var err error
		channels, err = store.QueryAll(ctx, q, "SELECT "+channelCols+" FROM chat_channels c WHERE c.service_sid = ? AND c.account_sid = ?", scanChannel, sid, c.account)
		if err != nil {
			return err
		}
		return deleteInstance(ctx, q, c.account, sid)
	})
	if err != nil {
		return wrap("delete service", notFound(err, "Service", sid))
	}
	for _, ch := range channels {
		s.publish(ctx, "channel.removed", ch, nil, s.channelJSON(ch))
	}
	return nil
}
