package chat

import (
	"context"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

func (s *Service) createChannel(ctx context.Context, c caller, serviceSID string, ch Channel) (Channel, error) {
	if err := c.requireAdmin("create channels"); err != nil {
		return ch, err
	}
	in, err := s.instance(ctx, c, serviceSID)
	if err != nil {
		return ch, err
	}
	if _, err := s.pre(ctx, c, in, "onChannelAdd", channelParams(ch)); err != nil {
		return ch, err
	}
	ch.SID, ch.AccountSID, ch.ServiceSID = rest.NewSID("CH"), c.account, serviceSID
	stamp(&ch.Created, &ch.Updated)
	if err := insertChannel(ctx, s.db, ch); err != nil {
		return ch, wrap("create channel", conflict(err, codeChannelExists, "Channel with unique name %q already exists", ch.UniqueName))
	}
	s.post(c, in, nil, "onChannelAdded", channelParams(ch), nil, &ch)
	return ch, nil
}

func (s *Service) listChannels(ctx context.Context, c caller, serviceSID string, types []string, p rest.Page) ([]Channel, error) {
	if _, err := s.instance(ctx, c, serviceSID); err != nil {
		return nil, err
	}
	member := ""
	if !c.admin {
		member = c.identity // a token sees only its own channels
	}
	out, err := listChannels(ctx, s.db, serviceSID, types, member, p.After, p.Before, p.Fetch())
	return out, wrap("list channels", err)
}

// channelPatch holds the optional fields of a channel update.
type channelPatch struct {
	FriendlyName, UniqueName, Attributes, CreatedBy *string
	DateCreated, DateUpdated                        *int64
}

func (s *Service) updateChannel(ctx context.Context, c caller, serviceSID, ref string, p channelPatch) (Channel, error) {
	if err := c.requireAdmin("change channels"); err != nil {
		return Channel{}, err
	}
	in, ch, err := s.channel(ctx, c, serviceSID, ref)
	if err != nil {
		return ch, err
	}
	set(&ch.FriendlyName, p.FriendlyName)
	set(&ch.UniqueName, p.UniqueName)
	set(&ch.Attributes, p.Attributes)
	set(&ch.CreatedBy, p.CreatedBy)
	set(&ch.Created, p.DateCreated)
	if _, err := s.pre(ctx, c, in, "onChannelUpdate", channelParams(ch)); err != nil {
		return ch, err
	}
	ch.Updated = store.Now()
	set(&ch.Updated, p.DateUpdated)
	if err := updateChannel(ctx, s.db, ch); err != nil {
		return ch, wrap("update channel", conflict(notFound(err, "Channel", ref), codeChannelExists,
			"Channel with unique name %q already exists", ch.UniqueName))
	}
	// Counts may have moved since the read; events carry the stored row.
	if fresh, err := getChannel(ctx, s.db, serviceSID, ch.SID); err == nil {
		ch = fresh
	}
	s.publish(ctx, "channel.updated", ch, nil, s.channelJSON(ch))
	s.post(c, in, s.channelWebhooks(ctx, c, ch), "onChannelUpdated", channelParams(ch), nil, &ch)
	return ch, nil
}

func (s *Service) deleteChannel(ctx context.Context, c caller, serviceSID, ref string) error {
	if err := c.requireAdmin("delete channels"); err != nil {
		return err
	}
	in, ch, err := s.channel(ctx, c, serviceSID, ref)
	if err != nil {
		return err
	}
	if _, err := s.pre(ctx, c, in, "onChannelDestroy", channelParams(ch)); err != nil {
		return err
	}
	hooks := s.channelWebhooks(ctx, c, ch) // read before the cascade removes them
	if err := deleteChannel(ctx, s.db, serviceSID, ch.SID); err != nil {
		return wrap("delete channel", notFound(err, "Channel", ref))
	}
	s.publish(ctx, "channel.removed", ch, nil, s.channelJSON(ch))
	s.post(c, in, hooks, "onChannelDestroyed", channelParams(ch), nil, &ch)
	return nil
}
