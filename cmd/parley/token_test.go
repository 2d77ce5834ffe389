package main

import (
	"bytes"
	"strings"
	"testing"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/store/storetest"
	"github.com/parleychat/parley/internal/token"
)

func TestTokenCommand(t *testing.T) {
	for _, backend := range []string{storetest.SQLite, storetest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			srv := parleytest.Start(t, parleytest.Backend(t, backend))
			store := []string{"-data-dir", srv.Config.DataDir, "-database-url", srv.Config.DatabaseURL}
			cli := func(args ...string) (int, string, string) {
				var out, errb bytes.Buffer
				code := run(append(args, store...), &out, &errb)
				return code, strings.TrimSpace(out.String()), errb.String()
			}
			key, err := srv.Admin().Api.CreateNewKey(&openapi.CreateNewKeyParams{})
			if err != nil {
				t.Fatal(err)
			}
			code, raw, errs := cli("token", "-identity", "agent7", "-key", *key.Sid, "-workspace", "WS"+strings.Repeat("1", 32), "-ttl", "2h")
			if code != 0 {
				t.Fatalf("token: %d %s", code, errs)
			}
			p, err := srv.App.Tokens.Verify(t.Context(), raw)
			if err != nil || p.Identity != "agent7" || p.Guest || p.CredentialSID != *key.Sid || p.WorkspaceSID != "WS"+strings.Repeat("1", 32) {
				t.Fatalf("the server reads the CLI's token as %+v (%v)", p, err)
			}

			code, raw, errs = cli("token", "-identity", "visitor", "-guest")
			if p, err := srv.App.Tokens.Verify(t.Context(), raw); code != 0 || err != nil || !p.Guest {
				t.Fatalf("guest token: %d %s %+v %v", code, errs, p, err)
			}

			for name, args := range map[string][]string{
				"no key":       {"token", "-identity", "x"},
				"no identity":  {"token", "-guest"},
				"ttl too long": {"token", "-identity", "x", "-guest", "-ttl", "25h"},
				"unknown key":  {"token", "-identity", "x", "-key", "SK" + strings.Repeat("0", 32)},
			} {
				if code, _, errs := cli(args...); code == 0 || !strings.Contains(errs, "parley token") {
					t.Errorf("%s: exit %d, stderr %q", name, code, errs)
				}
			}

			code, out, errs := cli("token", "rotate-guest-key")
			if code != 0 || !strings.HasPrefix(out, "new guest key SK") {
				t.Fatalf("rotate: %d %q %s", code, out, errs)
			}
			fresh := srv.Token(t, token.Grant{Guest: true, Identity: "v2"})
			if p, _ := srv.App.Tokens.Verify(t.Context(), fresh); p == nil || p.CredentialSID != strings.TrimPrefix(out, "new guest key ") {
				t.Errorf("the server does not sign with the rotated key: %+v", p)
			}
		})
	}
}
