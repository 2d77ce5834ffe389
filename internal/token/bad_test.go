package token_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/token"
)

// forged describes a token built by hand, field by field, so that each
// case changes exactly one thing of a good token.
type forged struct {
	method jwt.SigningMethod
	key    any
	header map[string]any
	claims jwt.MapClaims
}

func goodForged(acct, keySID, secret string) forged {
	now := time.Now()
	return forged{method: jwt.SigningMethodHS256, key: []byte(secret),
		header: map[string]any{"cty": "twilio-fpa;v=1"},
		claims: jwt.MapClaims{"jti": keySID + "-1", "iss": keySID, "sub": acct, "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"grants": map[string]any{"identity": "alice", "chat": map[string]any{"service_sid": "IS" + strings.Repeat("0", 32)}}}}
}

func (f forged) sign(t *testing.T) string {
	t.Helper()
	tok := jwt.NewWithClaims(f.method, f.claims)
	for k, v := range f.header {
		if v == nil {
			delete(tok.Header, k)
			continue
		}
		tok.Header[k] = v
	}
	raw, err := tok.SignedString(f.key)
	if err != nil {
		t.Fatalf("forge: %v", err)
	}
	return raw
}

func TestBadTokensRefused(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	forEachServer(t, func(t *testing.T, srv *parleytest.Server) {
		keySID, secret := newKey(t, srv)
		other, err := srv.App.Accounts.Create(t.Context(), "other tenant")
		if err != nil {
			t.Fatal(err)
		}
		otherKey, err := srv.App.Accounts.CreateKey(t.Context(), other.SID, "")
		if err != nil {
			t.Fatal(err)
		}
		deadSID, deadSecret := newKey(t, srv)
		if err := srv.Admin().Api.DeleteKey(deadSID, nil); err != nil {
			t.Fatal(err)
		}
		good := func() forged { return goodForged(srv.AccountSID, keySID, secret) }
		with := func(change func(f *forged)) string {
			f := good()
			change(&f)
			return f.sign(t)
		}
		now := time.Now()
		cases := []struct {
			name string
			raw  string
			code int
		}{
			{"expired", with(func(f *forged) {
				f.claims["nbf"], f.claims["exp"] = now.Add(-time.Hour).Unix(), now.Add(-time.Second).Unix()
			}), token.CodeExpired},
			{"no exp", with(func(f *forged) { delete(f.claims, "exp") }), token.CodeExpired},
			{"not yet valid", with(func(f *forged) { f.claims["nbf"] = now.Add(10 * time.Minute).Unix() }), token.CodeNotYetValid},
			{"lifetime over 24h", with(func(f *forged) { f.claims["exp"] = now.Add(25 * time.Hour).Unix() }), token.CodeLifetimeTooBig},
			{"lifetime over 24h without nbf", with(func(f *forged) { delete(f.claims, "nbf"); f.claims["exp"] = now.Add(30 * time.Hour).Unix() }), token.CodeLifetimeTooBig},
			{"bad signature", with(func(f *forged) { f.key = []byte(strings.Repeat("x", 32)) }), token.CodeBadSignature},
			{"tampered claims", tamper(with(func(*forged) {})), token.CodeBadSignature},
			{"alg none", with(func(f *forged) { f.method, f.key = jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType }), token.CodeBadHeader},
			{"HS512", with(func(f *forged) { f.method = jwt.SigningMethodHS512 }), token.CodeBadHeader},
			{"RS256", with(func(f *forged) { f.method, f.key = jwt.SigningMethodRS256, rsaKey }), token.CodeBadHeader},
			{"unknown alg", swapHeader(with(func(*forged) {}), `{"alg":"XY9","cty":"twilio-fpa;v=1","typ":"JWT"}`), token.CodeBadHeader},
			{"no cty", with(func(f *forged) { f.header["cty"] = nil }), token.CodeBadHeader},
			{"wrong typ", with(func(f *forged) { f.header["typ"] = "JWE" }), token.CodeBadHeader},
			{"unknown key", with(func(f *forged) { f.claims["iss"] = rest.NewSID("SK") }), token.CodeIssuerSubject},
			{"issuer not a key", with(func(f *forged) { f.claims["iss"] = srv.AccountSID }), token.CodeIssuerSubject},
			{"subject not an account", with(func(f *forged) { f.claims["sub"] = "alice" }), token.CodeIssuerSubject},
			{"key of another account", with(func(f *forged) { f.claims["iss"], f.key = otherKey.SID, []byte(otherKey.Secret) }), token.CodeIssuerSubject},
			{"other account's key claiming its own account", with(func(f *forged) {
				f.claims["iss"], f.claims["sub"], f.key = otherKey.SID, other.SID, []byte(otherKey.Secret)
			}), token.CodeIssuerSubject}, // valid token, but not for the path's account
			{"deleted key", with(func(f *forged) { f.claims["iss"], f.key = deadSID, []byte(deadSecret) }), token.CodeIssuerSubject},
			{"two segments", "eyJhbGciOiJIUzI1NiJ9.eyJ9", token.CodeInvalid},
			{"four segments", with(func(*forged) {}) + ".x", token.CodeInvalid},
			{"bad base64", "!!!.???.***", token.CodeInvalid},
			{"not JSON", "bm90anNvbg.bm90anNvbg.c2ln", token.CodeInvalid},
			{"oversized", with(func(f *forged) { f.claims["pad"] = strings.Repeat("p", token.MaxTokenBytes) }), token.CodeInvalid},
			{"missing grants", with(func(f *forged) { delete(f.claims, "grants") }), token.CodeBadGrants},
			{"empty identity", with(func(f *forged) { f.claims["grants"] = map[string]any{"chat": map[string]any{}} }), token.CodeBadGrants},
			{"identity too long", with(func(f *forged) { f.claims["grants"] = map[string]any{"identity": strings.Repeat("i", 300)} }), token.CodeBadGrants},
		}
		if ok := with(func(*forged) {}); !accepted(t, srv, ok) {
			t.Fatal("the good forged token is refused; the cases below would prove nothing")
		}
		if skewed := with(func(f *forged) { f.claims["nbf"] = now.Add(10 * time.Second).Unix() }); !accepted(t, srv, skewed) {
			t.Error("a token minted by a host whose clock is 10s ahead is refused")
		}
		for _, c := range cases {
			for _, header := range []bool{false, true} {
				status, body := whoami(t, srv, srv.AccountSID, c.raw, header)
				code, _ := body["code"].(float64)
				msg, _ := body["message"].(string)
				if status != http.StatusUnauthorized || int(code) != c.code || msg == "" {
					t.Errorf("%s (header=%v): got %d %v, want 401 code %d", c.name, header, status, body, c.code)
				}
			}
		}
	})
}

// accepted reports whether raw authenticates a request.
func accepted(t *testing.T, srv *parleytest.Server, raw string) bool {
	status, _ := whoami(t, srv, srv.AccountSID, raw, false)
	return status == http.StatusOK
}

// tamper changes the identity inside a signed token's payload.
func tamper(raw string) string {
	parts := strings.Split(raw, ".")
	claims, _ := jwt.NewParser().DecodeSegment(parts[1])
	changed := strings.Replace(string(claims), `"alice"`, `"mallory"`, 1)
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(changed))
	return strings.Join(parts, ".")
}

// swapHeader replaces a token's header segment.
func swapHeader(raw, header string) string {
	parts := strings.Split(raw, ".")
	parts[0] = base64.RawURLEncoding.EncodeToString([]byte(header))
	return strings.Join(parts, ".")
}

func TestTokensRefusedOnAccountOnlyEndpoints(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *parleytest.Server) {
		guest := srv.Token(t, token.Grant{Guest: true, Identity: "visitor"})
		agent := srv.Token(t, token.Grant{Identity: "agent", WorkspaceSID: "WS" + strings.Repeat("1", 32)})
		for name, raw := range map[string]string{"guest": guest, "api-key token": agent} {
			for _, path := range []string{"/api/2010-04-01/Accounts/" + srv.AccountSID + "/Keys.json",
				"/iam/v1/Accounts/" + srv.AccountSID + "/AllowedOrigins"} {
				status, body := srv.Request(t, "GET", path, nil, "token", raw)
				if status != http.StatusUnauthorized || !strings.Contains(body, `"code":20003`) || !strings.Contains(body, "access tokens may not use it") {
					t.Errorf("%s on %s: %d %s", name, path, status, body)
				}
			}
		}
	})
}

func TestDeletedKeyCutsTokensOffAtOnce(t *testing.T) {
	// A recheck of an hour means only the keys.deleted message can explain
	// the cut-off.
	forEachServer(t, func(t *testing.T, srv *parleytest.Server) {
		keySID, _ := newKey(t, srv)
		raw := srv.Token(t, token.Grant{KeySID: keySID, Identity: "alice"})
		if !accepted(t, srv, raw) { // warms the key cache
			t.Fatal("fresh token refused")
		}
		if err := srv.Admin().Api.DeleteKey(keySID, nil); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(2 * time.Second)
		for accepted(t, srv, raw) {
			if time.Now().After(deadline) {
				t.Fatal("token of a deleted key still accepted 2s after the delete")
			}
			time.Sleep(5 * time.Millisecond)
		}
		status, body := whoami(t, srv, srv.AccountSID, raw, false)
		if status != http.StatusUnauthorized || body["code"] != float64(token.CodeIssuerSubject) {
			t.Errorf("after delete: %d %v", status, body)
		}
	}, func(c *config.Config) { c.TokenKeyRecheck = time.Hour })
}

// The token side of "a guest only on its own channels": guest tokens come
// out of /iam bound to the account's Flex chat service, each with its own
// identity, and chat refuses a guest on a channel it is not a member of.
func TestGuestTokenOnAnotherGuestsChannel(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *parleytest.Server) {
		alice := mintGuest(t, srv, srv.AccountSID, nil)
		mallory := mintGuest(t, srv, srv.AccountSID, nil)
		pa, err := srv.App.Tokens.Verify(t.Context(), alice["token"].(string))
		if err != nil {
			t.Fatal(err)
		}
		pm, err := srv.App.Tokens.Verify(t.Context(), mallory["token"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if !rest.IsSID("IS", pa.ChatServiceSID) || pa.ChatServiceSID != pm.ChatServiceSID || pa.Identity == pm.Identity || !pa.Guest || pa.Admin {
			t.Fatalf("guest principals %+v and %+v", pa, pm)
		}
		svc := "/chat/v2/Services/" + pa.ChatServiceSID + "/Channels"
		status, body := srv.Request(t, "POST", svc, url.Values{"FriendlyName": {"alice's chat"}}, srv.AccountSID, srv.AuthToken)
		if status != http.StatusCreated {
			t.Fatalf("create channel: %d %s", status, body)
		}
		var ch struct{ Sid string }
		if err := json.Unmarshal([]byte(body), &ch); err != nil {
			t.Fatal(err)
		}
		status, body = srv.Request(t, "POST", svc+"/"+ch.Sid+"/Members", url.Values{"Identity": {pa.Identity}}, srv.AccountSID, srv.AuthToken)
		if status != http.StatusCreated {
			t.Fatalf("add alice: %d %s", status, body)
		}
		if status, body := srv.Request(t, "GET", svc+"/"+ch.Sid, nil, "token", alice["token"].(string)); status != http.StatusOK {
			t.Errorf("alice reads her own channel: %d %s", status, body)
		}
		for _, path := range []string{svc + "/" + ch.Sid, svc + "/" + ch.Sid + "/Messages", svc + "/" + ch.Sid + "/Members"} {
			status, body := srv.Request(t, "GET", path, nil, "token", mallory["token"].(string))
			if status != http.StatusForbidden || !strings.Contains(body, `"code":20403`) || !strings.Contains(body, ch.Sid) {
				t.Errorf("another guest on %s: %d %s", path, status, body)
			}
		}
	})
}
