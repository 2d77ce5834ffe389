package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/rest"
)

// FuzzParse feeds arbitrary text to the token parser and the claim
// checks. Whatever comes in, the answer is a 401 *rest.Error or a token
// that really meets Twilio's rules; never a panic, never another error.
func FuzzParse(f *testing.F) {
	secret := []byte(strings.Repeat("s", 32))
	now := time.Unix(1_700_000_000, 0)
	key, acct := "SK"+strings.Repeat("1", 32), "AC"+strings.Repeat("2", 32)
	good := &claims{ID: jti(key, now), Issuer: key, Subject: acct, NotBefore: at(now), ExpiresAt: at(now.Add(time.Hour)),
		Grants: &grants{Identity: "alice", Chat: &chatGrant{ServiceSID: "IS" + strings.Repeat("3", 32)},
			TaskRouter: &taskRouterGrant{WorkspaceSID: "WS" + strings.Repeat("4", 32), Role: "worker"}}}
	raw, err := sign(good, string(secret))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	parts := strings.Split(raw, ".")
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(parts[0] + "." + parts[1])
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + parts[1] + ".")
	f.Add("")
	f.Add("..")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := parse(raw, func(*claims) ([]byte, error) { return secret, nil })
		if err == nil {
			err = checkClaims(c, now)
		}
		if err != nil {
			if e, ok := rest.AsError(err); !ok || e.Status != 401 || e.Code < 20101 || e.Message == "" {
				t.Fatalf("refusal %v is not a 401 with an access-token code", err)
			}
			return
		}
		start := float64(now.Unix())
		if c.NotBefore != nil {
			start = float64(*c.NotBefore)
		}
		switch {
		case !rest.IsSID("SK", c.Issuer), !rest.IsSID("AC", c.Subject):
			t.Fatalf("accepted issuer %q subject %q", c.Issuer, c.Subject)
		case c.Grants == nil || c.Grants.Identity == "":
			t.Fatal("accepted a token without identity")
		case c.ExpiresAt == nil || float64(*c.ExpiresAt) <= float64(now.Unix()) || float64(*c.ExpiresAt)-start > MaxLifetime.Seconds():
			t.Fatalf("accepted exp %v", c.ExpiresAt)
		}
		_ = c.Grants.chatService()
	})
}

// FuzzClaims signs arbitrary header and payload JSON with the right key,
// so that the fuzzer reaches the decoding and the claim checks that a
// random signature never gets past.
func FuzzClaims(f *testing.F) {
	secret := strings.Repeat("s", 32)
	now := time.Unix(1_700_000_000, 0)
	f.Add(`{"alg":"HS256","cty":"twilio-fpa;v=1","typ":"JWT"}`,
		`{"jti":"SK11111111111111111111111111111111-1700000000","iss":"SK11111111111111111111111111111111","sub":"AC22222222222222222222222222222222","nbf":1700000000,"exp":1700003600,"grants":{"identity":"alice","chat":{"service_sid":"IS33333333333333333333333333333333"}}}`)
	f.Add(`{"alg":"HS256","cty":"twilio-fpa;v=1"}`,
		`{"iss":"SK11111111111111111111111111111111","sub":"AC22222222222222222222222222222222","exp":1.7000036e9,"grants":{"identity":"b","task_router":{"workspace_sid":"WS1","role":"x"}}}`)
	f.Add(`{"alg":"HS256","cty":"twilio-fpa;v=1"}`, `{"iss":"SK11111111111111111111111111111111","sub":"AC22222222222222222222222222222222","exp":1e300,"nbf":-1e300,"grants":{"identity":"c"}}`)
	f.Add(`{"alg":"HS256","cty":"twilio-fpa;v=1"}`, `{"exp":"soon","grants":[]}`)
	f.Fuzz(func(t *testing.T, header, payload string) {
		signing := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(signing))
		raw := signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
		c, err := parse(raw, func(*claims) ([]byte, error) { return []byte(secret), nil })
		if err == nil {
			err = checkClaims(c, now)
		}
		if err != nil {
			if e, ok := rest.AsError(err); !ok || e.Status != 401 || e.Message == "" {
				t.Fatalf("refusal %v is not a 401", err)
			}
			return
		}
		exp := float64(*c.ExpiresAt)
		if exp <= float64(now.Unix()) || exp-float64(now.Unix()) > MaxLifetime.Seconds() || c.Grants.Identity == "" {
			t.Fatalf("accepted %+v", c)
		}
		if d := c.ExpiresAt.Time().Sub(now); d <= 0 || d > MaxLifetime {
			t.Fatalf("accepted token's expiry %v is out of range", c.ExpiresAt.Time())
		}
	})
}

// FuzzNormalizeOrigin: an accepted origin is scheme://host[:port] and
// normalizing it again changes nothing (so stored and presented origins
// compare equal).
func FuzzNormalizeOrigin(f *testing.F) {
	for _, s := range []string{"https://Shop.Example.com:443", "http://localhost:8080/", "null", "https://a@b", "http://[::1]:80", "HTTPS://X.EXAMPLE"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, ok := NormalizeOrigin(in)
		if !ok {
			return
		}
		again, ok2 := NormalizeOrigin(out)
		if !ok2 || again != out {
			t.Fatalf("%q -> %q -> %q (%v)", in, out, again, ok2)
		}
		if !strings.HasPrefix(out, "http://") && !strings.HasPrefix(out, "https://") || strings.Count(out, "/") != 2 {
			t.Fatalf("%q normalized to %q", in, out)
		}
	})
}
