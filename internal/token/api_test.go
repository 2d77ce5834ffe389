package token_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	twjwt "github.com/twilio/twilio-go/client/jwt"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store/storetest"
	"github.com/parleychat/parley/internal/token"
)

// forEachServer runs fn on a whole server per storage backend.
func forEachServer(t *testing.T, fn func(t *testing.T, srv *parleytest.Server), opts ...parleytest.Option) {
	for _, backend := range []string{storetest.SQLite, storetest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			srv := parleytest.Start(t, append([]parleytest.Option{parleytest.Backend(t, backend)}, opts...)...)
			fn(t, srv)
		})
	}
}

// newKey creates an API key in the main account through the REST API.
func newKey(t *testing.T, srv *parleytest.Server) (sid, secret string) {
	t.Helper()
	k, err := srv.Admin().Api.CreateNewKey(&openapi.CreateNewKeyParams{})
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	return *k.Sid, *k.Secret
}

// twilioToken mints a token with twilio-go's own client/jwt package.
func twilioToken(t *testing.T, acct, keySID, secret, identity string, grants ...twjwt.BaseGrant) string {
	t.Helper()
	tok := twjwt.CreateAccessToken(twjwt.AccessTokenParams{AccountSid: acct, SigningKeySid: keySID,
		Secret: secret, Identity: identity, Grants: grants})
	raw, err := tok.ToJwt()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// whoami validates raw through /Tokens/validate authenticated by itself,
// over real HTTP; it returns the status and the decoded body.
func whoami(t *testing.T, srv *parleytest.Server, acct, raw string, header bool) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", srv.URL+"/iam/v1/Accounts/"+acct+"/Tokens/validate", strings.NewReader(`{}`))
	if header {
		req.Header.Set("X-Twilio-Token", raw)
	} else {
		req.SetBasicAuth("token", raw)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	status, body, _ := send(t, req)
	return status, body
}

// send does req and decodes its JSON answer.
func send(t *testing.T, req *http.Request) (int, map[string]any, http.Header) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil && res.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d, body %q is not JSON", res.StatusCode, b)
	}
	return res.StatusCode, m, res.Header
}

func TestTwilioAndParleyTokensAccepted(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *parleytest.Server) {
		keySID, secret := newKey(t, srv)
		theirs := twilioToken(t, srv.AccountSID, keySID, secret, "alice",
			&twjwt.ChatGrant{ServiceSid: "IS" + strings.Repeat("a", 32)},
			&twjwt.TaskRouterGrant{WorkspaceSid: "WS" + strings.Repeat("b", 32), WorkerSid: "WK" + strings.Repeat("c", 32), Role: "worker"})
		ours := srv.Token(t, token.Grant{KeySID: keySID, Identity: "alice",
			ChatServiceSID: "IS" + strings.Repeat("a", 32), WorkspaceSID: "WS" + strings.Repeat("b", 32),
			WorkerSID: "WK" + strings.Repeat("c", 32), TaskRouterRole: "worker"})
		for name, raw := range map[string]string{"twilio-go": theirs, "parley": ours} {
			for _, header := range []bool{false, true} {
				status, body := whoami(t, srv, srv.AccountSID, raw, header)
				if status != 200 || body["identity"] != "alice" || body["valid"] != true || body["worker_sid"] != "WK"+strings.Repeat("c", 32) {
					t.Errorf("%s token (header=%v): %d %v", name, header, status, body)
				}
			}
			p, err := srv.App.Tokens.Verify(t.Context(), raw)
			if err != nil {
				t.Fatalf("%s token: %v", name, err)
			}
			want := rest.Principal{AccountSID: srv.AccountSID, CredentialSID: keySID, Identity: "alice",
				TokenID: p.TokenID, ExpiresAt: p.ExpiresAt, ChatServiceSID: "IS" + strings.Repeat("a", 32),
				WorkspaceSID: "WS" + strings.Repeat("b", 32), WorkerSID: "WK" + strings.Repeat("c", 32), TaskRouterRole: "worker"}
			if *p != want {
				t.Errorf("%s token principal\n got %+v\nwant %+v", name, *p, want)
			}
			if !strings.HasPrefix(p.TokenID, keySID+"-") || time.Until(p.ExpiresAt) < 59*time.Minute {
				t.Errorf("%s token: jti %q, expires %v", name, p.TokenID, p.ExpiresAt)
			}
		}
		// Parley's tokens decode with twilio-go too: same header, claims and grants.
		dec, err := (&twjwt.AccessToken{}).FromJwt(ours, secret)
		if err != nil || dec.Identity != "alice" || dec.AccountSid != srv.AccountSID || dec.SigningKeySid != keySID || len(dec.Grants) != 2 {
			t.Errorf("twilio-go decodes Parley's token: %+v, %v", dec, err)
		}
	})
}
