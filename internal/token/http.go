package token

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/parleychat/parley/internal/rest"
)

// Routes mounts the /iam endpoints: the anonymous guest-token calls that
// Twilio's Flex WebChat UI makes (with CORS), and Parley's small admin
// resources for the origin allow-list and guest key rotation.
func (s *Service) Routes(rt *rest.Router) {
	h := &handlers{s: s, rt: rt}
	const base = "/iam/v1/Accounts/{AccountSid}/Tokens"
	rt.Public("POST "+base, h.cors(true, h.mintGuest))
	rt.Public("POST "+base+"/refresh", h.cors(true, h.refreshGuest))
	// Backends validate tokens server to server, without an Origin.
	rt.Public("POST "+base+"/validate", h.cors(false, h.validate))
	for _, p := range []string{base, base + "/refresh", base + "/validate"} {
		rt.Public("OPTIONS "+p, h.cors(true, h.preflight))
	}
	rt.Handle("GET /iam/v1/Accounts/{AccountSid}/AllowedOrigins", h.fetchOrigins)
	rt.Handle("POST /iam/v1/Accounts/{AccountSid}/AllowedOrigins", h.updateOrigins)
	rt.Handle("POST /iam/v1/Accounts/{AccountSid}/GuestKey/Rotate", h.rotateGuestKey)
}

type handlers struct {
	s  *Service
	rt *rest.Router
}

// GuestToken is what the guest endpoints answer, the token payload the
// Flex WebChat UI keeps: {token, identity, roles, expiration}.
type GuestToken struct {
	Token      string    `json:"token"`
	Identity   string    `json:"identity"`
	Roles      []string  `json:"roles"`
	Expiration rest.Time `json:"expiration"`
}

// cors checks the browser origin against the account's allow-list and,
// when allowed, answers with Access-Control-Allow-Origin echoing it.
// Requests without an Origin (servers, curl) pass when the list is empty,
// or always unless browserOnly.
func (h *handlers) cors(browserOnly bool, next rest.HandlerFunc) rest.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		acct, err := rest.PathSID(r, "AccountSid", "AC")
		if err != nil {
			return err
		}
		w.Header().Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		if (origin != "" || browserOnly) && !h.s.OriginAllowed(r.Context(), acct, origin) {
			return rest.Forbidden("Origin %q is not allowed to use account %s", origin, acct)
		}
		if origin != "" {
			w.Header().Set("Access-Control-Allow-Origin", origin)
		}
		return next(w, r)
	}
}

func (h *handlers) preflight(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Twilio-Token")
	w.Header().Set("Access-Control-Max-Age", "600")
	w.Header().Set("Allow", "POST, OPTIONS")
	return rest.NoContent(w)
}

// readJSON decodes a small JSON body into v; a bad body is a 400.
func (h *handlers) readJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, h.rt.MaxBody+1))
	if err != nil {
		return err
	}
	if int64(len(body)) > h.rt.MaxBody {
		return rest.TooLarge(h.rt.MaxBody)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return rest.BadRequest("The request body must be a JSON object: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

func (h *handlers) mintGuest(w http.ResponseWriter, r *http.Request) error {
	acct := r.PathValue("AccountSid")
	if err := h.s.limits.allow(h.s.ClientIP(r)); err != nil {
		return err
	}
	var body struct {
		Products []string `json:"products"`
	}
	if err := h.readJSON(r, &body); err != nil {
		return err
	}
	if err := checkProducts(body.Products); err != nil {
		return err
	}
	out, err := h.s.MintGuest(r.Context(), acct, "", "")
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusOK, out)
}

func checkProducts(products []string) error {
	if len(products) == 0 {
		return rest.MissingParam("products")
	}
	for _, p := range products {
		if p != "flex" {
			return rest.InvalidParam("products", "%q is not a product Parley issues guest tokens for (only \"flex\")", p)
		}
	}
	return nil
}

func (h *handlers) refreshGuest(w http.ResponseWriter, r *http.Request) error {
	acct := r.PathValue("AccountSid")
	if err := h.s.limits.allow(h.s.ClientIP(r)); err != nil {
		return err
	}
	var body struct {
		Token string `json:"token"`
	}
	if err := h.readJSON(r, &body); err != nil {
		return err
	}
	if body.Token == "" {
		return rest.MissingParam("token")
	}
	p, err := h.s.verifyFor(r, acct, body.Token)
	if err != nil {
		return err
	}
	if !p.Guest {
		return refuse(CodeInvalid, "Only guest tokens are refreshed here; mint other tokens with your API key")
	}
	out, err := h.s.MintGuest(r.Context(), acct, p.Identity, p.ChatServiceSID)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusOK, out)
}

// verifyFor verifies raw and checks it belongs to the path's account.
func (s *Service) verifyFor(r *http.Request, acct, raw string) (*rest.Principal, error) {
	p, err := s.Verify(r.Context(), raw)
	if err != nil {
		return nil, err
	}
	if p.AccountSID != acct {
		return nil, refuse(CodeIssuerSubject, "Invalid Access Token subject: the token belongs to another account")
	}
	return p, nil
}

// MintGuest issues a guest token for the account: for identity (a fresh
// random one when empty) and chatService (the account's default chat
// service when empty and one is plugged in).
func (s *Service) MintGuest(ctx context.Context, acct, identity, chatService string) (GuestToken, error) {
	if identity == "" {
		identity = "guest_" + rest.RandomHex(16)
	}
	if chatService == "" && s.opts.ChatServices != nil {
		if err := s.requireAccount(ctx, acct); err != nil {
			return GuestToken{}, err
		}
		var err error
		if chatService, err = s.opts.ChatServices.DefaultChatService(ctx, acct); err != nil {
			return GuestToken{}, err
		}
	}
	raw, exp, err := s.Mint(ctx, Grant{AccountSID: acct, Identity: identity, TTL: s.opts.GuestTTL,
		ChatServiceSID: chatService, Guest: true})
	if err != nil {
		return GuestToken{}, err
	}
	return GuestToken{Token: raw, Identity: identity, Roles: []string{"guest"}, Expiration: rest.Time(exp)}, nil
}

// validationJSON answers /Tokens/validate.
type validationJSON struct {
	Valid      bool      `json:"valid"`
	AccountSID string    `json:"account_sid"`
	Identity   string    `json:"identity"`
	Roles      []string  `json:"roles"`
	WorkerSID  string    `json:"worker_sid,omitempty"`
	Expiration rest.Time `json:"expiration"`
}

// validate checks the token in the body or, without one, the access
// token the request authenticated with (token:<jwt> or X-Twilio-Token).
// Backends may call it with the account's credentials, as Twilio's Flex
// token validator does.
func (h *handlers) validate(w http.ResponseWriter, r *http.Request) error {
	acct := r.PathValue("AccountSid")
	var body struct {
		Token string `json:"token"`
	}
	if err := h.readJSON(r, &body); err != nil {
		return err
	}
	caller, err := h.rt.Auth.Authenticate(r)
	if err != nil {
		return err
	}
	if caller != nil && !caller.CanAccessAccount(acct) {
		return refuse(CodeIssuerSubject, "Invalid Access Token subject: the credentials belong to another account")
	}
	p := caller
	switch {
	case body.Token != "":
		if p, err = h.s.verifyFor(r, acct, body.Token); err != nil {
			return err
		}
	case caller == nil || caller.Admin:
		return rest.MissingParam("token")
	}
	return rest.WriteJSON(w, http.StatusOK, validationJSON{Valid: true, AccountSID: p.AccountSID, Identity: p.Identity,
		Roles: roles(p), WorkerSID: p.WorkerSID, Expiration: rest.Time(p.ExpiresAt)})
}

func roles(p *rest.Principal) []string {
	switch {
	case p.Guest:
		return []string{"guest"}
	case p.TaskRouterRole != "":
		return []string{p.TaskRouterRole}
	}
	return []string{}
}

// adminAccount is the path's account when the caller holds its account
// credentials or an API key.
func adminAccount(r *http.Request) (string, error) {
	if err := rest.PrincipalFrom(r.Context()).RequireAdmin(); err != nil {
		return "", err
	}
	return rest.AccountFromPath(r, "AccountSid")
}

// adminForm is adminAccount and the request's parameters.
func (h *handlers) adminForm(r *http.Request) (string, *rest.Form, error) {
	acct, err := adminAccount(r)
	if err != nil {
		return "", nil, err
	}
	f, err := h.rt.Form(r)
	return acct, f, err
}

func isTrue(b *bool) bool { return b != nil && *b }

// originsJSON is the AllowedOrigins resource.
type originsJSON struct {
	AccountSID     string   `json:"account_sid"`
	AllowedOrigins []string `json:"allowed_origins"`
	URL            string   `json:"url"`
}

func (h *handlers) originsJSON(acct string, list []string) originsJSON {
	return originsJSON{AccountSID: acct, AllowedOrigins: list, URL: h.rt.URL("/iam/v1/Accounts/" + acct + "/AllowedOrigins")}
}

func (h *handlers) fetchOrigins(w http.ResponseWriter, r *http.Request) error {
	acct, err := adminAccount(r)
	if err != nil {
		return err
	}
	list, err := h.s.AllowedOrigins(r.Context(), acct)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusOK, h.originsJSON(acct, list))
}

// updateOrigins replaces the stored list: AllowedOrigin repeated, or
// Clear=true to empty it (any origin allowed again).
func (h *handlers) updateOrigins(w http.ResponseWriter, r *http.Request) error {
	acct, f, err := h.adminForm(r)
	if err != nil {
		return err
	}
	clear := f.Bool("Clear")
	list := f.Strings("AllowedOrigin")
	if err := f.Err(); err != nil {
		return err
	}
	if len(list) == 0 && !isTrue(clear) {
		return rest.BadRequest("Send AllowedOrigin (repeated, one origin each) or Clear=true")
	}
	if len(list) > 100 {
		return rest.InvalidParam("AllowedOrigin", "at most 100 origins")
	}
	out, err := h.s.SetAllowedOrigins(r.Context(), acct, list)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusOK, h.originsJSON(acct, out))
}

// rotateGuestKey gives the account a new guest signing key;
// DropPrevious=true also stops the previous one at once.
func (h *handlers) rotateGuestKey(w http.ResponseWriter, r *http.Request) error {
	acct, f, err := h.adminForm(r)
	if err != nil {
		return err
	}
	drop := f.Bool("DropPrevious")
	if err := f.Err(); err != nil {
		return err
	}
	sid, err := h.s.RotateGuestKey(r.Context(), acct, isTrue(drop))
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusOK, map[string]string{"account_sid": acct, "key_sid": sid})
}
