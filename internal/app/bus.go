package app

import (
	"log/slog"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/bus/natsbus"
	"github.com/parleychat/parley/internal/config"
)

// newBus is the one place the bus is chosen: NATS when PARLEY_NATS_URL
// names servers (several nodes of one deployment), else in-process.
func newBus(cfg config.Config, logger *slog.Logger) (bus.Bus, error) {
	if cfg.NATSURL == "" {
		return bus.NewMemory(0), nil
	}
	return natsbus.New(cfg.NATSURL, natsbus.Options{Prefix: cfg.NATSPrefix, Name: "parley " + cfg.PublicURL, Logger: logger})
}
