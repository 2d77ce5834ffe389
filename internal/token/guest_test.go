package token_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	twjwt "github.com/twilio/twilio-go/client/jwt"

	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/token"
)

// call posts body (JSON) to path with optional headers and returns the
// status, the decoded body and the response headers.
func call(t *testing.T, srv *parleytest.Server, method, path, body string, headers map[string]string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return send(t, req)
}

func tokensPath(acct string) string { return "/iam/v1/Accounts/" + acct + "/Tokens" }

const flexBody = `{"products":["flex"]}`

// mintGuest calls POST /Tokens as the Flex WebChat UI does and checks the
// exact shape of the answer.
func mintGuest(t *testing.T, srv *parleytest.Server, acct string, headers map[string]string) map[string]any {
	t.Helper()
	status, body, _ := call(t, srv, "POST", tokensPath(acct), flexBody, headers)
	if status != http.StatusOK {
		t.Fatalf("mint guest token: %d %v", status, body)
	}
	checkGuestShape(t, body)
	return body
}

func checkGuestShape(t *testing.T, body map[string]any) {
	t.Helper()
	if len(body) != 4 {
		t.Errorf("guest token payload has keys %v, want exactly token, identity, roles, expiration", body)
	}
	roles, _ := body["roles"].([]any)
	if tok, _ := body["token"].(string); strings.Count(tok, ".") != 2 {
		t.Errorf("token %q is not a JWT", tok)
	}
	if id, _ := body["identity"].(string); id == "" {
		t.Errorf("identity is empty")
	}
	if len(roles) != 1 || roles[0] != "guest" {
		t.Errorf("roles = %v, want [guest]", body["roles"])
	}
	if _, err := time.Parse("2006-01-02T15:04:05Z", body["expiration"].(string)); err != nil {
		t.Errorf("expiration %v is not ISO 8601: %v", body["expiration"], err)
	}
}

func expiration(t *testing.T, body map[string]any) time.Time {
	t.Helper()
	e, err := time.Parse(time.RFC3339, body["expiration"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestGuestTokens(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *parleytest.Server) {
		first := mintGuest(t, srv, srv.AccountSID, nil)
		second := mintGuest(t, srv, srv.AccountSID, nil)
		if first["identity"] == second["identity"] {
			t.Errorf("two visitors got the same identity %v", first["identity"])
		}
		if exp := expiration(t, first); exp.Before(time.Now().Add(59*time.Minute)) || exp.After(time.Now().Add(61*time.Minute)) {
			t.Errorf("expiration %v is not an hour from now", exp)
		}
		raw := first["token"].(string)
		p, err := srv.App.Tokens.Verify(t.Context(), raw)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Guest || p.Admin || p.Identity != first["identity"] || p.AccountSID != srv.AccountSID || !p.ExpiresAt.Equal(expiration(t, first)) {
			t.Errorf("guest principal %+v", p)
		}
		// Twilio's library reads it: a chat grant and the identity.
		keySID, secret := token.GuestKeySecret(t, srv.App.Tokens, srv.AccountSID)
		dec, err := (&twjwt.AccessToken{}).FromJwt(raw, secret)
		if err != nil || dec.SigningKeySid != keySID || dec.Identity != first["identity"] || len(dec.Grants) != 1 || dec.Grants[0].Key() != "chat" {
			t.Errorf("twilio-go reads the guest token as %+v (%v)", dec, err)
		}
		// The widget then calls REST with it as token:<jwt>.
		status, body := whoami(t, srv, srv.AccountSID, raw, false)
		if status != 200 || body["identity"] != first["identity"] || body["roles"].([]any)[0] != "guest" {
			t.Errorf("validate guest token: %d %v", status, body)
		}
	})
}

func TestGuestTokenBadRequests(t *testing.T) {
	srv := parleytest.Start(t)
	missing := "AC" + strings.Repeat("0", 32)
	cases := []struct {
		name, path, body string
		status, code     int
		mention          string
	}{
		{"no products", tokensPath(srv.AccountSID), `{}`, 400, 20001, "products"},
		{"empty body", tokensPath(srv.AccountSID), ``, 400, 20001, "products"},
		{"other product", tokensPath(srv.AccountSID), `{"products":["voice"]}`, 400, 20001, "products"},
		{"not JSON", tokensPath(srv.AccountSID), `products=flex`, 400, 20001, "JSON"},
		{"products not a list", tokensPath(srv.AccountSID), `{"products":"flex"}`, 400, 20001, "JSON"},
		{"unknown account", tokensPath(missing), flexBody, 404, 20404, missing},
		{"bad account SID", tokensPath("ACnope"), flexBody, 404, 20404, "ACnope"},
		{"refresh without token", tokensPath(srv.AccountSID) + "/refresh", `{}`, 400, 20001, "token"},
		{"validate without token", tokensPath(srv.AccountSID) + "/validate", `{}`, 400, 20001, "token"},
	}
	for _, c := range cases {
		status, body, _ := call(t, srv, "POST", c.path, c.body, nil)
		msg, _ := body["message"].(string)
		if status != c.status || body["code"] != float64(c.code) || !strings.Contains(msg, c.mention) {
			t.Errorf("%s: %d %v, want %d code %d mentioning %q", c.name, status, body, c.status, c.code, c.mention)
		}
	}
}

func TestGuestTokenRefresh(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *parleytest.Server) {
		refresh := func(raw string) (int, map[string]any) {
			status, body, _ := call(t, srv, "POST", tokensPath(srv.AccountSID)+"/refresh", `{"token":"`+raw+`"}`, nil)
			return status, body
		}
		short := srv.Token(t, token.Grant{Guest: true, Identity: "guest_a", TTL: 10 * time.Minute, ChatServiceSID: "IS" + strings.Repeat("5", 32)})
		status, body := refresh(short)
		if status != 200 {
			t.Fatalf("refresh: %d %v", status, body)
		}
		checkGuestShape(t, body)
		if body["identity"] != "guest_a" || expiration(t, body).Before(time.Now().Add(59*time.Minute)) {
			t.Errorf("refreshed: %v", body)
		}
		p, err := srv.App.Tokens.Verify(t.Context(), body["token"].(string))
		if err != nil || !p.Guest || p.Identity != "guest_a" || p.ChatServiceSID != "IS"+strings.Repeat("5", 32) {
			t.Errorf("refreshed token: %+v %v", p, err)
		}

		other, _ := srv.App.Accounts.Create(t.Context(), "other")
		foreign := srv.Token(t, token.Grant{AccountSID: other.SID, Guest: true, Identity: "guest_b"})
		apiKeyToken := srv.Token(t, token.Grant{Identity: "agent"})
		for name, c := range map[string]struct {
			raw  string
			code int
		}{
			"foreign":   {foreign, token.CodeIssuerSubject},
			"non-guest": {apiKeyToken, token.CodeInvalid},
			"garbage":   {"x.y.z", token.CodeInvalid},
		} {
			if status, body := refresh(c.raw); status != 401 || body["code"] != float64(c.code) {
				t.Errorf("refresh %s token: %d %v, want 401 %d", name, status, body, c.code)
			}
		}

		// Revoked: the guest key is rotated out at once.
		live := mintGuest(t, srv, srv.AccountSID, nil)["token"].(string)
		if _, err := srv.App.Tokens.RotateGuestKey(t.Context(), srv.AccountSID, true); err != nil {
			t.Fatal(err)
		}
		if status, body := refresh(live); status != 401 || body["code"] != float64(token.CodeIssuerSubject) {
			t.Errorf("refresh with a dropped guest key: %d %v", status, body)
		}

		// Expired: the clock moves past the token's end.
		fresh := mintGuest(t, srv, srv.AccountSID, nil)["token"].(string)
		token.Advance(srv.App.Tokens, 2*time.Hour)
		defer token.Advance(srv.App.Tokens, -2*time.Hour)
		if status, body := refresh(fresh); status != 401 || body["code"] != float64(token.CodeExpired) {
			t.Errorf("refresh an expired token: %d %v", status, body)
		}
	})
}

func TestGuestKeyRotationKeepsPreviousForOneLifetime(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *parleytest.Server) {
		// A guest token outliving the guest lifetime shows where the grace ends.
		long := srv.Token(t, token.Grant{Guest: true, Identity: "guest_long", TTL: 3 * time.Hour})
		oldKey, _ := token.GuestKeySecret(t, srv.App.Tokens, srv.AccountSID)
		status, body := srv.Request(t, "POST", "/iam/v1/Accounts/"+srv.AccountSID+"/GuestKey/Rotate", url.Values{}, srv.AccountSID, srv.AuthToken)
		if status != 200 || !strings.Contains(body, `"key_sid":"SK`) {
			t.Fatalf("rotate: %d %s", status, body)
		}
		newKey, _ := token.GuestKeySecret(t, srv.App.Tokens, srv.AccountSID)
		if newKey == oldKey || !strings.Contains(body, newKey) {
			t.Fatalf("rotation kept key %s (answer %s)", oldKey, body)
		}
		if !accepted(t, srv, long) {
			t.Error("a token of the previous guest key is refused right after rotation")
		}
		if p, _ := srv.App.Tokens.Verify(t.Context(), mintGuest(t, srv, srv.AccountSID, nil)["token"].(string)); p == nil || p.CredentialSID != newKey {
			t.Errorf("new guest tokens are not signed by the new key: %+v", p)
		}
		token.Advance(srv.App.Tokens, srv.App.Tokens.GuestTTL()+time.Second)
		defer token.Advance(srv.App.Tokens, -srv.App.Tokens.GuestTTL()-time.Second)
		status, got := whoami(t, srv, srv.AccountSID, long, false)
		if status != 401 || got["code"] != float64(token.CodeIssuerSubject) {
			t.Errorf("previous key one lifetime after rotation: %d %v", status, got)
		}
	})
}

func TestGuestTokenRateLimit(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *parleytest.Server) {
		from := func(ip string) map[string]string { return map[string]string{"X-Forwarded-For": "198.51.100.7, " + ip} }
		for i := 0; i < 2; i++ {
			mintGuest(t, srv, srv.AccountSID, from("203.0.113.1"))
		}
		status, body, h := call(t, srv, "POST", tokensPath(srv.AccountSID), flexBody, from("203.0.113.1"))
		if status != 429 || body["code"] != float64(20429) || h.Get("Retry-After") != "10" {
			t.Errorf("third token in a burst of 2 at 6/min: %d %v Retry-After=%q", status, body, h.Get("Retry-After"))
		}
		// Refreshing draws on the same bucket.
		raw := srv.Token(t, token.Grant{Guest: true, Identity: "guest_r"})
		status, body, _ = call(t, srv, "POST", tokensPath(srv.AccountSID)+"/refresh", `{"token":"`+raw+`"}`, from("203.0.113.1"))
		if status != 429 {
			t.Errorf("refresh over the limit: %d %v", status, body)
		}
		// Another client behind the trusted proxy has its own bucket.
		mintGuest(t, srv, srv.AccountSID, from("203.0.113.2"))
		// The clock moves 10s: one token is back.
		token.Advance(srv.App.Tokens, 10*time.Second)
		mintGuest(t, srv, srv.AccountSID, from("203.0.113.1"))
	}, rateLimited, func(c *config.Config) { c.TrustedProxies = "127.0.0.1/32, ::1" })
}

func rateLimited(c *config.Config) { c.GuestTokenRate, c.GuestTokenBurst = 6, 2 }

func TestRateLimitIgnoresForwardedForFromUntrustedPeers(t *testing.T) {
	srv := parleytest.Start(t, rateLimited)
	for i, ip := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"} {
		status, _, _ := call(t, srv, "POST", tokensPath(srv.AccountSID), flexBody, map[string]string{"X-Forwarded-For": ip})
		if want := map[bool]int{true: 200, false: 429}[i < 2]; status != want {
			t.Errorf("request %d claiming %s: %d, want %d", i, ip, status, want)
		}
	}
}

func TestOriginAllowList(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *parleytest.Server) {
		shop := map[string]string{"Origin": "https://shop.example.com"}
		_, _, h := call(t, srv, "POST", tokensPath(srv.AccountSID), flexBody, shop)
		mintGuest(t, srv, srv.AccountSID, shop)
		if h.Get("Access-Control-Allow-Origin") != "https://shop.example.com" || !strings.Contains(h.Get("Vary"), "Origin") {
			t.Errorf("allowed origin: CORS headers %v", h)
		}
		mintGuest(t, srv, srv.AccountSID, map[string]string{"Origin": srv.URL}) // Parley's own pages
		for name, hdr := range map[string]map[string]string{
			"other origin":    {"Origin": "https://evil.example"},
			"no origin":       nil,
			"malformed":       {"Origin": "null"},
			"scheme mismatch": {"Origin": "http://shop.example.com"},
		} {
			status, body, h := call(t, srv, "POST", tokensPath(srv.AccountSID), flexBody, hdr)
			if status != 403 || body["code"] != float64(20403) || h.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("%s: %d %v ACAO=%q", name, status, body, h.Get("Access-Control-Allow-Origin"))
			}
		}
		// Preflight.
		status, _, h := call(t, srv, "OPTIONS", tokensPath(srv.AccountSID)+"/refresh", "", map[string]string{
			"Origin": "https://shop.example.com", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
		if status != 204 || h.Get("Access-Control-Allow-Origin") != "https://shop.example.com" ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Content-Type") {
			t.Errorf("preflight from allowed origin: %d %v", status, h)
		}
		status, _, h = call(t, srv, "OPTIONS", tokensPath(srv.AccountSID), "", map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
		if status != 403 || h.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight from another origin: %d %v", status, h)
		}
		// Backends validate without an Origin.
		if !accepted(t, srv, srv.Token(t, token.Grant{Guest: true, Identity: "g"})) {
			t.Error("server-to-server validate refused by the allow-list")
		}
		// Another account without a list: any origin, echoed.
		other, _ := srv.App.Accounts.Create(t.Context(), "other")
		_, _, h = call(t, srv, "POST", tokensPath(other.SID), flexBody, map[string]string{"Origin": "https://evil.example"})
		if h.Get("Access-Control-Allow-Origin") != "https://evil.example" {
			t.Errorf("account without a list: ACAO %q", h.Get("Access-Control-Allow-Origin"))
		}
		// The REST resource adds stored origins (normalized) to the configured one.
		path := "/iam/v1/Accounts/" + srv.AccountSID + "/AllowedOrigins"
		status, body := srv.Request(t, "POST", path, url.Values{"AllowedOrigin": {"https://Blog.Example.com:443", "https://blog.example.com"}}, srv.AccountSID, srv.AuthToken)
		if status != 200 || !strings.Contains(body, `"allowed_origins":["https://blog.example.com","https://shop.example.com"]`) {
			t.Errorf("set origins: %d %s", status, body)
		}
		mintGuest(t, srv, srv.AccountSID, map[string]string{"Origin": "https://blog.example.com"})
		if !srv.App.Tokens.OriginAllowed(t.Context(), srv.AccountSID, "https://blog.example.com") ||
			srv.App.Tokens.OriginAllowed(t.Context(), srv.AccountSID, "https://evil.example") {
			t.Error("OriginAllowed disagrees with the endpoints")
		}
		status, body = srv.Request(t, "POST", path, url.Values{"AllowedOrigin": {"blog.example.com/path"}}, srv.AccountSID, srv.AuthToken)
		if status != 400 || !strings.Contains(body, "AllowedOrigin") {
			t.Errorf("bad origin: %d %s", status, body)
		}
		status, body = srv.Request(t, "POST", path, url.Values{}, srv.AccountSID, srv.AuthToken)
		if status != 400 || !strings.Contains(body, "Clear") {
			t.Errorf("empty update: %d %s", status, body)
		}
		status, body = srv.Request(t, "POST", path, url.Values{"Clear": {"true"}}, srv.AccountSID, srv.AuthToken)
		if status != 200 || !strings.Contains(body, `"allowed_origins":["https://shop.example.com"]`) {
			t.Errorf("clear: %d %s", status, body)
		}
	}, func(c *config.Config) { c.AllowedOrigins = "https://shop.example.com" })
}
