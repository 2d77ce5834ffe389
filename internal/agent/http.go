package agent

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/rest"
)

// CookieName is the desktop's session cookie.
const CookieName = "parley_agent"

// HTTPOptions are what the routes need from the node.
type HTTPOptions struct {
	// SecureCookie sets the cookie's Secure flag (public URL on https).
	SecureCookie bool
	// ClientIP names the caller's address (trusted proxies applied).
	ClientIP func(r *http.Request) string
	// Verify checks an access token sent in X-Twilio-Token instead of
	// the session cookie (a desktop whose agents sign in elsewhere, see
	// TokenAgent). Nil: only the cookie is accepted.
	Verify func(ctx context.Context, raw string) (*rest.Principal, error)
}

// Routes mounts the desktop's sign-in, token and actions (session cookie)
// and the admin API (account credentials).
func (s *Service) Routes(rt *rest.Router, o HTTPOptions) {
	h := &handlers{s: s, rt: rt, o: o}
	rt.Public("POST /agent", noBasicChallenge(h.signIn))
	rt.Public("POST /agent/signout", h.session(h.signOut))
	rt.Public("GET /agent/token", h.session(h.token))
	rt.Public("GET /agent/desk/me", h.session(h.me))
	rt.Public("GET /agent/desk/activities", h.session(h.activities))
	rt.Public("POST /agent/desk/activity", h.session(h.setActivity))
	rt.Public("GET /agent/desk/reservations", h.session(h.reservations))
	rt.Public("POST /agent/desk/reservations/{Sid}/{Action}", h.session(h.reservation))
	h.transferRoutes(rt)
	h.cannedRoutes(rt)
	h.supervisorRoutes(rt)

	rt.Handle("POST /agents/v1/Agents", h.create)
	rt.Handle("GET /agents/v1/Agents", h.list)
	rt.Handle("GET /agents/v1/Agents/{Sid}", h.fetch)
	rt.Handle("DELETE /agents/v1/Agents/{Sid}", h.remove)
}

type handlers struct {
	s  *Service
	rt *rest.Router
	o  HTTPOptions
}

type agentHandler func(w http.ResponseWriter, r *http.Request, a Agent) error

// noBasicChallenge answers a 401 without the REST API's
// WWW-Authenticate: Basic header, which would make a browser open its own
// password dialog over the desktop instead of handing the 401 to fetch.
func noBasicChallenge(next rest.HandlerFunc) rest.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		err := next(w, r)
		if e, ok := rest.AsError(err); ok && e.Status == http.StatusUnauthorized {
			return rest.WriteJSON(w, e.Status, e)
		}
		return err
	}
}

// session resolves the cookie, or an access token in X-Twilio-Token, to
// an agent. State-changing requests on the cookie must also come from
// this origin: the cookie is SameSite=Strict, and the Origin check refuses
// what a browser sends cross-site anyway. A token is no ambient
// credential (a page must hold it to send it), so it needs no such check.
func (h *handlers) session(next agentHandler) rest.HandlerFunc {
	return noBasicChallenge(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Cache-Control", "no-store")
		if raw := strings.TrimSpace(r.Header.Get(TokenHeader)); raw != "" {
			a, err := h.tokenAgent(r, raw)
			if err != nil {
				return err
			}
			return next(w, r, a)
		}
		if r.Method != http.MethodGet {
			if err := sameOrigin(r); err != nil {
				return err
			}
		}
		c, err := r.Cookie(CookieName)
		if err != nil {
			return rest.Unauthorized("Sign in at /agent first")
		}
		a, err := h.s.Session(r.Context(), c.Value)
		if err != nil {
			return rest.Unauthorized("The session expired or was ended; sign in again")
		}
		return next(w, r, a)
	})
}

// TokenHeader carries an access token instead of the session cookie, as
// on the REST API.
const TokenHeader = "X-Twilio-Token"

func (h *handlers) tokenAgent(r *http.Request, raw string) (Agent, error) {
	if h.o.Verify == nil {
		return Agent{}, rest.Unauthorized("This node takes only the session cookie on /agent; sign in at /agent")
	}
	p, err := h.o.Verify(r.Context(), raw)
	if err != nil {
		if e, ok := rest.AsError(err); ok {
			return Agent{}, e
		}
		return Agent{}, rest.Unauthorized("The access token is not valid: %v", err)
	}
	return h.s.TokenAgent(r.Context(), p)
}

// sameOrigin refuses a request whose Origin is missing or another host.
func sameOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	u, err := url.Parse(origin)
	if origin == "" || err != nil || !strings.EqualFold(u.Host, r.Host) {
		return rest.Forbidden("This request must come from the agent desktop's own origin")
	}
	return nil
}

func (h *handlers) signIn(w http.ResponseWriter, r *http.Request) error {
	if err := sameOrigin(r); err != nil {
		return err
	}
	f, err := h.rt.Form(r)
	if err != nil {
		return err
	}
	email, password := f.Required("Email"), f.Required("Password")
	if err := f.Err(); err != nil {
		return err
	}
	ip := r.RemoteAddr
	if h.o.ClientIP != nil {
		ip = h.o.ClientIP(r)
	}
	raw, a, err := h.s.SignIn(r.Context(), email, password, ip)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: raw, Path: "/agent", HttpOnly: true, Secure: h.o.SecureCookie,
		SameSite: http.SameSiteStrictMode, MaxAge: int(h.s.opts.SessionTTL / time.Second)})
	return rest.WriteJSON(w, http.StatusOK, toJSON(a))
}

func (h *handlers) signOut(w http.ResponseWriter, r *http.Request, _ Agent) error {
	c, _ := r.Cookie(CookieName)
	if err := h.s.SignOut(r.Context(), c.Value); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/agent", HttpOnly: true, Secure: h.o.SecureCookie,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// tokenJSON is what the desktop needs to connect.
type tokenJSON struct {
	Token          string    `json:"token"`
	Expires        rest.Time `json:"expires_at"`
	Identity       string    `json:"identity"`
	ChatServiceSID string    `json:"chat_service_sid"`
	Agent          agentJSON `json:"agent"`
}

func (h *handlers) token(w http.ResponseWriter, r *http.Request, a Agent) error {
	raw, exp, svc, err := h.s.Token(r.Context(), a)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusOK, tokenJSON{Token: raw, Expires: rest.Time(exp), Identity: a.Identity(),
		ChatServiceSID: svc, Agent: toJSON(a)})
}

// me is who the desktop works for: what GET /agent/token says besides
// the token, for a desktop that got its token elsewhere.
func (h *handlers) me(w http.ResponseWriter, r *http.Request, a Agent) error {
	return rest.WriteJSON(w, http.StatusOK, map[string]any{"identity": a.Identity(), "agent": toJSON(a)})
}

func (h *handlers) requireDesk() error {
	if h.s.desk == nil {
		return rest.NewError(http.StatusServiceUnavailable, 20503, "The agent desktop's services are not available on this node")
	}
	return nil
}

func (h *handlers) activities(w http.ResponseWriter, r *http.Request, a Agent) error {
	if err := h.requireDesk(); err != nil {
		return err
	}
	acts, err := h.s.desk.Activities(r.Context(), a)
	if err != nil {
		return err
	}
	ws, err := h.s.desk.Worker(r.Context(), a)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusOK, map[string]any{"activities": acts, "worker": ws})
}

func (h *handlers) setActivity(w http.ResponseWriter, r *http.Request, a Agent) error {
	if err := h.requireDesk(); err != nil {
		return err
	}
	f, err := h.rt.Form(r)
	if err != nil {
		return err
	}
	f.Required("ActivitySid")
	sid := f.SID("ActivitySid", "WA")
	if err := f.Err(); err != nil {
		return err
	}
	ws, err := h.s.desk.SetActivity(r.Context(), a, sid)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusOK, ws)
}

func (h *handlers) reservations(w http.ResponseWriter, r *http.Request, a Agent) error {
	if err := h.requireDesk(); err != nil {
		return err
	}
	list, err := h.s.Reservations(r.Context(), a)
	if err != nil {
		return err
	}
	if list == nil {
		list = []Reservation{}
	}
	return rest.WriteJSON(w, http.StatusOK, map[string]any{"reservations": list, "now_ms": time.Now().UnixMilli()})
}

// reservationActions maps the desktop's verbs to reservation statuses.
var reservationActions = map[string]string{"accept": "accepted", "reject": "rejected", "wrapup": "wrapping", "complete": "completed"}

func (h *handlers) reservation(w http.ResponseWriter, r *http.Request, a Agent) error {
	if err := h.requireDesk(); err != nil {
		return err
	}
	sid, err := rest.PathSID(r, "Sid", "WR")
	if err != nil {
		return err
	}
	status, ok := reservationActions[r.PathValue("Action")]
	if !ok {
		return rest.NotFound("No action %q: use accept, reject, wrapup or complete", r.PathValue("Action"))
	}
	if status == "accepted" {
		res, ch, err := h.s.Accept(r.Context(), a, sid)
		if err != nil {
			return err
		}
		return rest.WriteJSON(w, http.StatusOK, map[string]any{"reservation": res, "channel_sid": ch})
	}
	res, err := h.s.desk.UpdateReservation(r.Context(), a, sid, status)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusOK, map[string]any{"reservation": res})
}

// agentJSON is an agent as the API shows it (never the password hash).
type agentJSON struct {
	SID          string    `json:"sid"`
	AccountSID   string    `json:"account_sid"`
	WorkspaceSID string    `json:"workspace_sid"`
	WorkerSID    string    `json:"worker_sid"`
	Email        string    `json:"email"`
	FriendlyName string    `json:"friendly_name"`
	Role         string    `json:"role"`
	DateCreated  rest.Time `json:"date_created"`
	DateUpdated  rest.Time `json:"date_updated"`
	seq          int64
}

func toJSON(a Agent) agentJSON {
	return agentJSON{SID: a.SID, AccountSID: a.AccountSID, WorkspaceSID: a.WorkspaceSID, WorkerSID: a.WorkerSID,
		Email: a.Email, FriendlyName: a.FriendlyName, Role: a.Role,
		DateCreated: rest.Time(time.UnixMilli(a.Created)), DateUpdated: rest.Time(time.UnixMilli(a.Updated)), seq: a.seq}
}

func adminAccount(r *http.Request) (string, error) {
	p := rest.PrincipalFrom(r.Context())
	if err := p.RequireAdmin(); err != nil {
		return "", err
	}
	return p.AccountSID, nil
}

// adminForm is an admin API request's account and form.
func (h *handlers) adminForm(r *http.Request) (string, *rest.Form, error) {
	acct, err := adminAccount(r)
	if err != nil {
		return "", nil, err
	}
	f, err := h.rt.Form(r)
	return acct, f, err
}

func (h *handlers) create(w http.ResponseWriter, r *http.Request) error {
	acct, f, err := h.adminForm(r)
	if err != nil {
		return err
	}
	n := NewAgent{FriendlyName: f.Required("FriendlyName"), Email: f.Required("Email"), Password: f.Required("Password"),
		Role: f.String("Role"), Attributes: f.String("Attributes"), Skills: f.Strings("Skills")}
	if c := f.Int("ChatCapacity", 1, 50); c != nil {
		n.ChatCapacity = *c
	}
	if err := f.Err(); err != nil {
		return err
	}
	a, err := h.s.Create(r.Context(), acct, n)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusCreated, toJSON(a))
}

func (h *handlers) list(w http.ResponseWriter, r *http.Request) error {
	return adminList(h, w, r, "agents", "/agents/v1/Agents", h.s.List, toJSON, func(a agentJSON) int64 { return a.seq })
}

func (h *handlers) one(r *http.Request) (Agent, error) {
	acct, err := adminAccount(r)
	if err != nil {
		return Agent{}, err
	}
	sid, err := rest.PathSID(r, "Sid", "UA")
	if err != nil {
		return Agent{}, err
	}
	a, err := h.s.Get(r.Context(), acct, sid)
	if errors.Is(err, ErrNotFound) {
		return a, rest.NotFound("The requested resource %s was not found", r.URL.Path)
	}
	return a, err
}

func (h *handlers) fetch(w http.ResponseWriter, r *http.Request) error {
	a, err := h.one(r)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusOK, toJSON(a))
}

func (h *handlers) remove(w http.ResponseWriter, r *http.Request) error {
	a, err := h.one(r)
	if err != nil {
		return err
	}
	if err := h.s.Delete(r.Context(), a.AccountSID, a.SID); err != nil {
		return err
	}
	return rest.NoContent(w)
}
