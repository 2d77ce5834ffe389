package account

import (
	"errors"
	"net/http"

	"github.com/parleychat/parley/internal/rest"
)

// Routes mounts the 2010 API's Keys resource. Paths end in .json as
// Twilio's do; the bare form is accepted too.
func (s *Service) Routes(rt *rest.Router) {
	h := &handlers{s: s, rt: rt}
	for _, sfx := range []string{"", ".json"} {
		rt.Handle("POST /api/2010-04-01/Accounts/{AccountSid}/Keys"+sfx, h.createKey)
		rt.Handle("GET /api/2010-04-01/Accounts/{AccountSid}/Keys"+sfx, h.listKeys)
	}
	rt.Handle("GET /api/2010-04-01/Accounts/{AccountSid}/Keys/{Sid}", h.fetchKey)
	rt.Handle("POST /api/2010-04-01/Accounts/{AccountSid}/Keys/{Sid}", h.updateKey)
	rt.Handle("DELETE /api/2010-04-01/Accounts/{AccountSid}/Keys/{Sid}", h.deleteKey)
}

type handlers struct {
	s  *Service
	rt *rest.Router
}

// keyJSON is api.v2010.account.key; Secret is set only at creation
// (api.v2010.account.new_key).
type keyJSON struct {
	SID          string       `json:"sid"`
	FriendlyName string       `json:"friendly_name"`
	DateCreated  rest.RFC2822 `json:"date_created"`
	DateUpdated  rest.RFC2822 `json:"date_updated"`
	Secret       string       `json:"secret,omitempty"`
	seq          int64
}

func toJSON(k Key) keyJSON {
	return keyJSON{SID: k.SID, FriendlyName: k.FriendlyName,
		DateCreated: rest.RFC2822(rest.Millis(k.Created)), DateUpdated: rest.RFC2822(rest.Millis(k.Updated)), seq: k.Seq}
}

// keysAccount checks the path's account and that the caller uses the
// account's own credentials: like Twilio's standard keys, an API key
// cannot list or mint other keys.
func (h *handlers) keysAccount(r *http.Request) (string, error) {
	acct, err := rest.AccountFromPath(r, "AccountSid")
	if err != nil {
		return "", err
	}
	p := rest.PrincipalFrom(r.Context())
	if err := p.RequireAdmin(); err != nil {
		return "", err
	}
	if p.CredentialSID != acct {
		return "", rest.Forbidden("API keys are managed with the account's auth token, not with another API key")
	}
	return acct, nil
}

func (h *handlers) createKey(w http.ResponseWriter, r *http.Request) error {
	acct, err := h.keysAccount(r)
	if err != nil {
		return err
	}
	f, err := h.rt.Form(r)
	if err != nil {
		return err
	}
	f.MaxLen("FriendlyName", 64)
	if err := f.Err(); err != nil {
		return err
	}
	k, err := h.s.CreateKey(r.Context(), acct, f.String("FriendlyName"))
	if err != nil {
		return err
	}
	out := toJSON(k)
	out.Secret = k.Secret
	return rest.WriteJSON(w, http.StatusCreated, out)
}

func (h *handlers) listKeys(w http.ResponseWriter, r *http.Request) error {
	acct, err := h.keysAccount(r)
	if err != nil {
		return err
	}
	f, err := h.rt.Form(r)
	if err != nil {
		return err
	}
	page, err := rest.ParsePage(f, 1000)
	if err != nil {
		return err
	}
	keys, err := h.s.Keys(r.Context(), acct, page.After, page.Before, page.Fetch())
	if err != nil {
		return err
	}
	rows := make([]keyJSON, len(keys))
	for i, k := range keys {
		rows[i] = toJSON(k)
	}
	l := rest.List[keyJSON]{Key: "keys", URL: h.rt.URL("/api/2010-04-01/Accounts/" + acct + "/Keys.json"),
		Rows: rows, Seq: func(k keyJSON) int64 { return k.seq }, Page: page, Query: r.URL.Query()}
	return l.Write2010(w, h.rt.URL("/api"))
}

func (h *handlers) key(r *http.Request) (string, Key, error) {
	acct, err := h.keysAccount(r)
	if err != nil {
		return "", Key{}, err
	}
	sid, err := rest.PathSID(r, "Sid", "SK")
	if err != nil {
		return "", Key{}, err
	}
	k, err := h.s.Key(r.Context(), acct, sid)
	return acct, k, notFound(r, err)
}

func notFound(r *http.Request, err error) error {
	if errors.Is(err, ErrNotFound) {
		return rest.NotFound("The requested resource %s was not found", r.URL.Path)
	}
	return err
}

func (h *handlers) fetchKey(w http.ResponseWriter, r *http.Request) error {
	_, k, err := h.key(r)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusOK, toJSON(k))
}

func (h *handlers) updateKey(w http.ResponseWriter, r *http.Request) error {
	acct, k, err := h.key(r)
	if err != nil {
		return err
	}
	f, err := h.rt.Form(r)
	if err != nil {
		return err
	}
	f.MaxLen("FriendlyName", 64)
	if err := f.Err(); err != nil {
		return err
	}
	if name := f.Optional("FriendlyName"); name != nil {
		if k, err = h.s.RenameKey(r.Context(), acct, k.SID, *name); err != nil {
			return notFound(r, err)
		}
	}
	return rest.WriteJSON(w, http.StatusOK, toJSON(k))
}

func (h *handlers) deleteKey(w http.ResponseWriter, r *http.Request) error {
	acct, k, err := h.key(r)
	if err != nil {
		return err
	}
	if err := h.s.DeleteKey(r.Context(), acct, k.SID); err != nil {
		return notFound(r, err)
	}
	return rest.NoContent(w)
}
