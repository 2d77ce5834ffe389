package app

import (
	"context"
	"log/slog"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/studio"
)

// newStudio builds Studio and plugs it into chat both ways: chat's studio
// webhooks deliver visitors' messages to it, and its flows post through
// chat. It refuses to send credentials to Parley's own URLs.
func newStudio(db *store.DB, cfg config.Config, chatSvc *chat.Service, logger *slog.Logger) *studio.Service {
	s := studio.New(db, logger, studio.Options{SelfOrigins: []string{cfg.PublicURL, "http://" + cfg.Addr}})
	if chatSvc != nil {
		s.SetChat(chatSvc)
		chatSvc.SetStudio(studioDispatcher{s})
	}
	return s
}

// studioDispatcher adapts Studio to chat.StudioDispatcher.
type studioDispatcher struct{ s *studio.Service }

var _ chat.StudioDispatcher = studioDispatcher{}

func (d studioDispatcher) DispatchMessage(ctx context.Context, ev chat.StudioMessage) error {
	return d.s.DeliverMessage(ctx, studio.IncomingMessage{AccountSID: ev.AccountSID, FlowSID: ev.FlowSID,
		ServiceSID: ev.ServiceSID, ChannelSID: ev.ChannelSID, MessageSID: ev.MessageSID, Index: ev.Index,
		From: ev.From, Body: ev.Body, Attributes: ev.Attributes, ChannelAttributes: string(ev.ChannelAttributes),
		Source: ev.Source, DateCreated: ev.DateCreated})
}
