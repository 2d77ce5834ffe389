package chat

import (
	"context"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

// validWebhook checks a channel webhook's configuration as a whole, after
// a create or an update has set its fields.
func validWebhook(w Webhook) error {
	switch w.Type {
	case "webhook":
		if w.URL == "" {
			return rest.MissingParam("Configuration.Url")
		}
		if len(w.Filters) == 0 {
			return rest.InvalidParam("Configuration.Filters", "a webhook of type webhook needs at least one event")
		}
	case "trigger":
		if w.URL == "" {
			return rest.MissingParam("Configuration.Url")
		}
		if len(w.Triggers) == 0 {
			return rest.InvalidParam("Configuration.Triggers", "a webhook of type trigger needs at least one trigger word")
		}
	case "studio":
		if w.FlowSID == "" {
			return rest.MissingParam("Configuration.FlowSid")
		}
		if len(w.Filters) != 1 || w.Filters[0] != "onMessageSent" {
			return rest.InvalidParam("Configuration.Filters", "a studio webhook runs its flow on onMessageSent only")
		}
	}
	if len(w.Triggers) > MaxTriggers {
		return rest.InvalidParam("Configuration.Triggers", "at most %d trigger words", MaxTriggers)
	}
	return nil
}

func (s *Service) webhookChannel(ctx context.Context, c caller, serviceSID, channelRef string) (Channel, error) {
	if err := c.requireAdmin("manage channel webhooks"); err != nil {
		return Channel{}, err
	}
	_, ch, err := s.channel(ctx, c, serviceSID, channelRef)
	return ch, err
}

func (s *Service) createWebhook(ctx context.Context, c caller, serviceSID, channelRef string, w Webhook) (Webhook, error) {
	ch, err := s.webhookChannel(ctx, c, serviceSID, channelRef)
	if err != nil {
		return w, err
	}
	if w.Type == "studio" && len(w.Filters) == 0 {
		w.Filters = []string{"onMessageSent"}
	}
	if err := validWebhook(w); err != nil {
		return w, err
	}
	now := store.Now()
	w.SID, w.AccountSID, w.ServiceSID, w.ChannelSID, w.Created, w.Updated = rest.NewSID("WH"), c.account, serviceSID, ch.SID, now, now
	err = s.db.InTx(ctx, func(q store.Querier) error {
		// The channel row lock (SQLite: the one writer) keeps two
		// concurrent creates from both passing the count.
		if err := addCount(ctx, q, ch.SID, "members_count", 0); err != nil {
			return err
		}
		n, err := countWebhooks(ctx, q, ch.SID)
		if err != nil {
			return err
		}
		if n >= MaxWebhooks {
			return tooMany("Channel %s already has %d webhooks, the most a channel may have", ch.SID, MaxWebhooks)
		}
		return insertWebhook(ctx, q, w)
	})
	return w, wrap("create webhook", err)
}

func (s *Service) webhook(ctx context.Context, c caller, serviceSID, channelRef, sid string) (Webhook, error) {
	ch, err := s.webhookChannel(ctx, c, serviceSID, channelRef)
	if err != nil {
		return Webhook{}, err
	}
	w, err := getWebhook(ctx, s.db, ch.SID, sid)
	return w, wrap("fetch webhook", notFound(err, "Webhook", sid))
}

func (s *Service) listWebhooks(ctx context.Context, c caller, serviceSID, channelRef string, p rest.Page) (string, []Webhook, error) {
	ch, err := s.webhookChannel(ctx, c, serviceSID, channelRef)
	if err != nil {
		return "", nil, err
	}
	out, err := listWebhooks(ctx, s.db, ch.SID, p.After, p.Before, p.Fetch())
	return ch.SID, out, wrap("list webhooks", err)
}

func (s *Service) updateWebhook(ctx context.Context, c caller, serviceSID, channelRef, sid string, patch func(*Webhook)) (Webhook, error) {
	w, err := s.webhook(ctx, c, serviceSID, channelRef, sid)
	if err != nil {
		return w, err
	}
	patch(&w)
	if err := validWebhook(w); err != nil {
		return w, err
	}
	w.Updated = store.Now()
	return w, wrap("update webhook", notFound(updateWebhook(ctx, s.db, w), "Webhook", sid))
}

func (s *Service) deleteWebhook(ctx context.Context, c caller, serviceSID, channelRef, sid string) error {
	w, err := s.webhook(ctx, c, serviceSID, channelRef, sid)
	if err != nil {
		return err
	}
	return wrap("delete webhook", notFound(deleteWebhook(ctx, s.db, w.ChannelSID, w.SID), "Webhook", sid))
}
