package token

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parleychat/parley/internal/rest"
)

// The token format is exactly Twilio's access token (see twilio-go
// client/jwt): an HS256 JWT with header cty "twilio-fpa;v=1", claims
// jti/iss/sub/nbf/exp and a "grants" object holding the identity and one
// object per product.
const (
	contentType = "twilio-fpa;v=1"
	// MaxLifetime is the longest a token may live (exp - nbf), as at Twilio.
	MaxLifetime = 24 * time.Hour
	// MaxTokenBytes bounds what the parser reads: real tokens are a few
	// hundred bytes, and a bound keeps hostile input cheap to refuse.
	MaxTokenBytes = 4096
	// notBeforeLeeway tolerates a minting host whose clock runs a little
	// ahead: twilio-go sets nbf to its own "now". exp gets no leeway.
	notBeforeLeeway = 30 * time.Second
	// maxIdentity bounds the identity claim (Twilio's Chat identities are
	// at most 256 characters).
	maxIdentity = 256
)

// Twilio's access-token error codes (all 401).
const (
	CodeInvalid        = 20101
	CodeBadHeader      = 20102
	CodeIssuerSubject  = 20103
	CodeExpired        = 20104
	CodeNotYetValid    = 20105
	CodeBadGrants      = 20106
	CodeBadSignature   = 20107
	CodeLifetimeTooBig = 20157
)

func refuse(code int, format string, args ...any) *rest.Error {
	return rest.NewError(401, code, format, args...)
}

// claims is the payload. Numeric dates may be floats (twilio-go writes
// float64 seconds); seconds reads both, and decodes faster than
// jwt.NumericDate (no json.Number round trip), which matters because
// decoding is most of a cold verify.
type claims struct {
	ID        string   `json:"jti,omitempty"`
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	IssuedAt  *seconds `json:"iat,omitempty"`
	NotBefore *seconds `json:"nbf,omitempty"`
	ExpiresAt *seconds `json:"exp,omitempty"`
	Grants    *grants  `json:"grants,omitempty"`
}

// grants is the "grants" claim. Keys and bodies follow twilio-go.
type grants struct {
	Identity      string           `json:"identity,omitempty"`
	Chat          *chatGrant       `json:"chat,omitempty"`
	IPMessaging   *chatGrant       `json:"ip_messaging,omitempty"`
	Conversations *serviceGrant    `json:"conversations,omitempty"`
	TaskRouter    *taskRouterGrant `json:"task_router,omitempty"`
}

type chatGrant struct {
	ServiceSID        string `json:"service_sid,omitempty"`
	EndpointID        string `json:"endpoint_id,omitempty"`
	DeploymentRoleSID string `json:"deployment_role_sid,omitempty"`
	PushCredentialSID string `json:"push_credential_sid,omitempty"`
}

type serviceGrant struct {
	ServiceSID string `json:"service_sid,omitempty"`
}

type taskRouterGrant struct {
	WorkspaceSID string `json:"workspace_sid,omitempty"`
	WorkerSID    string `json:"worker_sid,omitempty"`
	Role         string `json:"role,omitempty"`
}

// The jwt library's validator is bypassed (checkTimes does Twilio's
// checks with Twilio's codes); these satisfy its Claims interface.
func (c *claims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt.numeric(), nil }
func (c *claims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.IssuedAt.numeric(), nil }
func (c *claims) GetNotBefore() (*jwt.NumericDate, error)      { return c.NotBefore.numeric(), nil }

// seconds is a JWT NumericDate: seconds since the epoch, whole or not.
type seconds float64

func at(t time.Time) *seconds {
	s := seconds(t.Unix())
	return &s
}

func (s *seconds) Time() time.Time {
	sec, frac := math.Modf(float64(*s))
	return time.Unix(int64(sec), int64(frac*1e9))
}

func (s *seconds) numeric() *jwt.NumericDate {
	if s == nil {
		return nil
	}
	return jwt.NewNumericDate(s.Time())
}
func (c *claims) GetIssuer() (string, error)             { return c.Issuer, nil }
func (c *claims) GetSubject() (string, error)            { return c.Subject, nil }
func (c *claims) GetAudience() (jwt.ClaimStrings, error) { return nil, nil }

// parser accepts HS256 only: "none", RS256 (key confusion) and every
// other algorithm are refused before any key is used.
var parser = jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithoutClaimsValidation())

// parse checks the structure, the header and the signature of raw;
// secret returns the signing key's secret for the issuer (or an error
// that is returned as is). It does not check times or grants.
func parse(raw string, secret func(c *claims) ([]byte, error)) (*claims, error) {
	if len(raw) > MaxTokenBytes {
		return nil, refuse(CodeInvalid, "Invalid Access Token: longer than %d bytes", MaxTokenBytes)
	}
	var c claims
	var keyErr error
	tok, err := parser.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		if cty, _ := t.Header["cty"].(string); cty != contentType {
			keyErr = refuse(CodeBadHeader, "Invalid Access Token header: cty must be %q", contentType)
			return nil, keyErr
		}
		if typ, ok := t.Header["typ"].(string); ok && typ != "JWT" {
			keyErr = refuse(CodeBadHeader, "Invalid Access Token header: typ must be \"JWT\"")
			return nil, keyErr
		}
		k, err := secret(&c)
		keyErr = err
		return k, err
	})
	switch {
	case keyErr != nil:
		return nil, keyErr
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, refuse(CodeInvalid, "Invalid Access Token: not a well-formed JWT")
	case tok != nil && tok.Header["alg"] != jwt.SigningMethodHS256.Alg():
		return nil, refuse(CodeBadHeader, "Invalid Access Token header: alg must be HS256")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return nil, refuse(CodeBadSignature, "Invalid Access Token signature")
	case err != nil:
		return nil, refuse(CodeInvalid, "Invalid Access Token: not a well-formed JWT")
	}
	return &c, nil
}

// checkClaims applies Twilio's rules for the issuer, subject, times and
// grants at now.
func checkClaims(c *claims, now time.Time) error {
	if !rest.IsSID("SK", c.Issuer) || !rest.IsSID("AC", c.Subject) {
		return refuse(CodeIssuerSubject, "Invalid Access Token issuer/subject: iss must be an API key SID and sub an account SID")
	}
	if c.ExpiresAt == nil {
		return refuse(CodeExpired, "Access Token expiration date invalid: exp is missing")
	}
	// In float seconds, so that absurd values cannot overflow a time.Time.
	t := float64(now.UnixNano()) / 1e9
	exp, start := float64(*c.ExpiresAt), t
	if c.NotBefore != nil {
		start = float64(*c.NotBefore)
	}
	if c.IssuedAt != nil && float64(*c.IssuedAt) < start {
		start = float64(*c.IssuedAt)
	}
	if exp-start > MaxLifetime.Seconds() {
		return refuse(CodeLifetimeTooBig, "Access Token lifetime exceeds the maximum of 24 hours")
	}
	if t >= exp {
		return refuse(CodeExpired, "Access Token expired")
	}
	if c.NotBefore != nil && t+notBeforeLeeway.Seconds() < float64(*c.NotBefore) {
		return refuse(CodeNotYetValid, "Access Token not yet valid")
	}
	if c.Grants == nil {
		return refuse(CodeBadGrants, "Invalid Access Token grants: the grants claim is missing")
	}
	if c.Grants.Identity == "" {
		return refuse(CodeBadGrants, "Invalid Access Token grants: identity is empty")
	}
	if len(c.Grants.Identity) > maxIdentity {
		return refuse(CodeBadGrants, "Invalid Access Token grants: identity is longer than %d characters", maxIdentity)
	}
	return nil
}

// chatService is the chat service the grants name (chat, its legacy
// name ip_messaging, or conversations).
func (g *grants) chatService() string {
	switch {
	case g.Chat != nil && g.Chat.ServiceSID != "":
		return g.Chat.ServiceSID
	case g.IPMessaging != nil && g.IPMessaging.ServiceSID != "":
		return g.IPMessaging.ServiceSID
	case g.Conversations != nil:
		return g.Conversations.ServiceSID
	}
	return ""
}

// sign encodes c with Twilio's header and signs it with secret.
func sign(c *claims, secret string) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	t.Header["cty"] = contentType
	s, err := t.SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("token: sign: %w", err)
	}
	return s, nil
}

// jti is Twilio's token id: the signing key SID and the unix time.
func jti(keySID string, now time.Time) string {
	return keySID + "-" + strconv.FormatInt(now.Unix(), 10)
}
