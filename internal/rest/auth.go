package rest

import (
	"context"
	"net/http"
	"time"
)

// Principal is who a request or socket acts as.
//
// Account credentials and API keys are Admin: they may do everything
// within AccountSID. Access tokens are not: they act only within their
// grants and identity, which each domain checks.
type Principal struct {
	AccountSID string
	// CredentialSID is the AC or SK that authenticated the request, or the
	// SK that signed the access token.
	CredentialSID string
	Admin         bool

	// Access-token fields.
	Identity       string
	TokenID        string
	ExpiresAt      time.Time
	Guest          bool
	ChatServiceSID string
	WorkspaceSID   string
	WorkerSID      string
	TaskRouterRole string
}

// CanAccessAccount reports whether p may act on resources of account sid.
func (p *Principal) CanAccessAccount(sid string) bool { return p != nil && p.AccountSID == sid }

// RequireAdmin refuses principals that are not account credentials or
// API keys: 401 with code 20003, as Twilio answers an access token on a
// REST resource that takes only account credentials.
func (p *Principal) RequireAdmin() error {
	if p == nil || !p.Admin {
		return Unauthorized("Authenticate: this resource needs account credentials or an API key; access tokens may not use it")
	}
	return nil
}

// Authenticator turns a request's credentials into a Principal. It
// returns (nil, nil) when the request carries no credentials it knows,
// and an *Error (401) when it carries bad ones.
type Authenticator interface {
	Authenticate(r *http.Request) (*Principal, error)
}

// AuthFunc adapts a function to Authenticator.
type AuthFunc func(r *http.Request) (*Principal, error)

func (f AuthFunc) Authenticate(r *http.Request) (*Principal, error) { return f(r) }

// Chain tries each authenticator in turn; the first that recognises the
// credentials decides.
func Chain(as ...Authenticator) Authenticator {
	return AuthFunc(func(r *http.Request) (*Principal, error) {
		for _, a := range as {
			p, err := a.Authenticate(r)
			if err != nil || p != nil {
				return p, err
			}
		}
		return nil, nil
	})
}

type principalKey struct{}

// WithPrincipal stores p in ctx.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the request's Principal (nil on public routes).
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// AccountFromPath checks that the path's AccountSid names the
// principal's own account. Another account's path is a 404: its
// resources do not exist for this caller.
func AccountFromPath(r *http.Request, name string) (string, error) {
	sid, err := PathSID(r, name, "AC")
	if err != nil {
		return "", err
	}
	if !PrincipalFrom(r.Context()).CanAccessAccount(sid) {
		return "", NotFound("The requested resource %s was not found", r.URL.Path)
	}
	return sid, nil
}
