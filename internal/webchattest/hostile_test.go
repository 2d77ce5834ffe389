package webchattest_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/parleytest"
)

func base64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

func hostileInput(t *testing.T, browser context.Context, srv *parleytest.Server) {}

func accessibility(t *testing.T, browser context.Context, srv *parleytest.Server) {}
