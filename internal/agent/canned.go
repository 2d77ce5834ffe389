package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

// Canned responses: replies an admin defines per account (REST under
// /agents/v1/CannedResponses with account credentials) and agents insert
// into their draft (GET /agent/desk/canned-responses).

// Limits of a canned response's fields, in characters.
const (
	MaxCannedName     = 64
	MaxCannedCategory = 64
	MaxCannedBody     = 4096
	// maxCanned bounds what the desktop loads at once.
	maxCanned = 1000
)

// CannedResponse is one reply an agent can insert.
type CannedResponse struct {
	SID          string
	AccountSID   string
	FriendlyName string
	Category     string
	Body         string
	Created      int64
	Updated      int64
	seq          int64
}

// CannedPatch holds a create's or update's fields (nil: not given).
type CannedPatch struct {
	FriendlyName, Category, Body *string
}

// validCanned checks c's fields after a create or update.
func validCanned(c CannedResponse) error {
	fields := []struct {
		param, value string
		min, max     int
	}{{"FriendlyName", c.FriendlyName, 1, MaxCannedName}, {"Body", c.Body, 1, MaxCannedBody},
		{"Category", c.Category, 0, MaxCannedCategory}}
	for _, f := range fields {
		n := utf8.RuneCountInString(f.value)
		if !utf8.ValidString(f.value) || n < f.min || n > f.max || (f.min > 0 && strings.TrimSpace(f.value) == "") {
			return rest.InvalidParam(f.param, "must be %d to %d characters of text", f.min, f.max)
		}
	}
	return nil
}

func (c *CannedResponse) apply(p CannedPatch) {
	for _, f := range []struct{ dst, src *string }{{&c.FriendlyName, p.FriendlyName}, {&c.Category, p.Category}, {&c.Body, p.Body}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	c.FriendlyName, c.Category = strings.TrimSpace(c.FriendlyName), strings.TrimSpace(c.Category)
}

// CreateCanned adds a canned response to the account.
func (s *Service) CreateCanned(ctx context.Context, accountSID string, p CannedPatch) (CannedResponse, error) {
	now := store.Now()
	c := CannedResponse{SID: rest.NewSID("CR"), AccountSID: accountSID, Created: now, Updated: now}
	c.apply(p)
	if err := validCanned(c); err != nil {
		return c, err
	}
	_, err := s.db.ExecContext(ctx, "INSERT INTO agent_canned_responses (sid, account_sid, friendly_name, category, body, "+
		"date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?, ?)", c.SID, c.AccountSID, c.FriendlyName, c.Category, c.Body, c.Created, c.Updated)
	if err != nil {
		return c, fmt.Errorf("agent: create canned response: %w", err)
	}
	return s.Canned(ctx, accountSID, c.SID)
}

const cannedCols = "seq, sid, account_sid, friendly_name, category, body, date_created, date_updated"

func scanCanned(r store.Scanner) (CannedResponse, error) {
	var c CannedResponse
	err := r.Scan(&c.seq, &c.SID, &c.AccountSID, &c.FriendlyName, &c.Category, &c.Body, &c.Created, &c.Updated)
	return c, store.NoRows(err)
}

// Canned returns one of the account's canned responses (ErrNotFound).
func (s *Service) Canned(ctx context.Context, accountSID, sid string) (CannedResponse, error) {
	c, err := scanCanned(s.db.QueryRowContext(ctx, "SELECT "+cannedCols+" FROM agent_canned_responses WHERE sid = ? AND account_sid = ?",
		sid, accountSID))
	if errors.Is(err, store.ErrNotFound) {
		return c, ErrNotFound
	}
	return c, err
}

// CannedList returns one page of the account's canned responses, oldest first.
func (s *Service) CannedList(ctx context.Context, accountSID string, page rest.Page) ([]CannedResponse, error) {
	cond, tail := store.Keyset("seq", page.After, page.Before, page.Fetch())
	return store.QueryAll(ctx, s.db, "SELECT "+cannedCols+" FROM agent_canned_responses WHERE account_sid = ?"+cond+tail,
		scanCanned, accountSID)
}

// UpdateCanned changes the given fields.
func (s *Service) UpdateCanned(ctx context.Context, accountSID, sid string, p CannedPatch) (CannedResponse, error) {
	c, err := s.Canned(ctx, accountSID, sid)
	if err != nil {
		return c, err
	}
	c.apply(p)
	if err := validCanned(c); err != nil {
		return c, err
	}
	c.Updated = store.Now()
	err = store.Affected(s.db.ExecContext(ctx, "UPDATE agent_canned_responses SET friendly_name = ?, category = ?, body = ?, "+
		"date_updated = ? WHERE sid = ? AND account_sid = ?", c.FriendlyName, c.Category, c.Body, c.Updated, sid, accountSID))
	if errors.Is(err, store.ErrNotFound) {
		return c, ErrNotFound
	}
	return c, err
}

// DeleteCanned removes one.
func (s *Service) DeleteCanned(ctx context.Context, accountSID, sid string) error {
	err := store.Affected(s.db.ExecContext(ctx, "DELETE FROM agent_canned_responses WHERE sid = ? AND account_sid = ?", sid, accountSID))
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// ---- HTTP ---------------------------------------------------------------

// cannedJSON is a canned response as the API shows it.
type cannedJSON struct {
	SID          string    `json:"sid"`
	AccountSID   string    `json:"account_sid"`
	FriendlyName string    `json:"friendly_name"`
	Category     string    `json:"category"`
	Body         string    `json:"body"`
	DateCreated  rest.Time `json:"date_created"`
	DateUpdated  rest.Time `json:"date_updated"`
	URL          string    `json:"url"`
	seq          int64
}

const cannedPath = "/agents/v1/CannedResponses"

func (h *handlers) cannedJSON(c CannedResponse) cannedJSON {
	return cannedJSON{SID: c.SID, AccountSID: c.AccountSID, FriendlyName: c.FriendlyName, Category: c.Category, Body: c.Body,
		DateCreated: rest.Time(time.UnixMilli(c.Created)), DateUpdated: rest.Time(time.UnixMilli(c.Updated)),
		URL: h.rt.URL(cannedPath + "/" + c.SID), seq: c.seq}
}

// cannedRoutes mounts the admin API and the desktop's read.
func (h *handlers) cannedRoutes(rt *rest.Router) {
	rt.Handle("POST "+cannedPath, h.createCanned)
	rt.Handle("GET "+cannedPath, h.listCanned)
	rt.Handle("GET "+cannedPath+"/{Sid}", h.fetchCanned)
	rt.Handle("POST "+cannedPath+"/{Sid}", h.updateCanned)
	rt.Handle("DELETE "+cannedPath+"/{Sid}", h.deleteCanned)
	rt.Public("GET /agent/desk/canned-responses", h.session(h.deskCanned))
}

// cannedForm reads the fields a create or update may send.
func cannedForm(f *rest.Form) CannedPatch {
	return CannedPatch{FriendlyName: f.Optional("FriendlyName"), Category: f.Optional("Category"), Body: f.Optional("Body")}
}

func (h *handlers) createCanned(w http.ResponseWriter, r *http.Request) error {
	acct, f, err := h.adminForm(r)
	if err != nil {
		return err
	}
	f.Required("FriendlyName")
	f.Required("Body")
	if err := f.Err(); err != nil {
		return err
	}
	c, err := h.s.CreateCanned(r.Context(), acct, cannedForm(f))
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusCreated, h.cannedJSON(c))
}

func (h *handlers) listCanned(w http.ResponseWriter, r *http.Request) error {
	return adminList(h, w, r, "canned_responses", cannedPath, h.s.CannedList, h.cannedJSON, func(c cannedJSON) int64 { return c.seq })
}

// adminList answers an admin API list: one page of the caller's
// account's rows (load), as JSON (toJSON), with Twilio's paging.
func adminList[T, J any](h *handlers, w http.ResponseWriter, r *http.Request, key, path string,
	load func(ctx context.Context, accountSID string, page rest.Page) ([]T, error), toJSON func(T) J, seq func(J) int64) error {
	acct, f, err := h.adminForm(r)
	if err != nil {
		return err
	}
	page, err := rest.ParsePage(f, 1000)
	if err != nil {
		return err
	}
	list, err := load(r.Context(), acct, page)
	if err != nil {
		return err
	}
	rows := make([]J, len(list))
	for i, v := range list {
		rows[i] = toJSON(v)
	}
	l := rest.List[J]{Key: key, URL: h.rt.URL(path), Rows: rows, Seq: seq, Page: page, Query: r.URL.Query()}
	return l.Write(w)
}

// oneCanned resolves the path's SID within the caller's account.
func (h *handlers) oneCanned(r *http.Request, fn func(acct, sid string) (CannedResponse, error)) (CannedResponse, error) {
	acct, err := adminAccount(r)
	if err != nil {
		return CannedResponse{}, err
	}
	sid, err := rest.PathSID(r, "Sid", "CR")
	if err != nil {
		return CannedResponse{}, err
	}
	c, err := fn(acct, sid)
	if errors.Is(err, ErrNotFound) {
		return c, rest.NotFound("The requested resource %s was not found", r.URL.Path)
	}
	return c, err
}

func (h *handlers) fetchCanned(w http.ResponseWriter, r *http.Request) error {
	c, err := h.oneCanned(r, func(acct, sid string) (CannedResponse, error) { return h.s.Canned(r.Context(), acct, sid) })
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusOK, h.cannedJSON(c))
}

func (h *handlers) updateCanned(w http.ResponseWriter, r *http.Request) error {
	c, err := h.oneCanned(r, func(acct, sid string) (CannedResponse, error) {
		f, err := h.rt.Form(r)
		if err != nil {
			return CannedResponse{}, err
		}
		return h.s.UpdateCanned(r.Context(), acct, sid, cannedForm(f))
	})
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusOK, h.cannedJSON(c))
}

func (h *handlers) deleteCanned(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.oneCanned(r, func(acct, sid string) (CannedResponse, error) {
		return CannedResponse{}, h.s.DeleteCanned(r.Context(), acct, sid)
	}); err != nil {
		return err
	}
	return rest.NoContent(w)
}

// deskCanned lists the account's canned responses for the picker, by
// category and name.
func (h *handlers) deskCanned(w http.ResponseWriter, r *http.Request, a Agent) error {
	list, err := store.QueryAll(r.Context(), h.s.db, "SELECT "+cannedCols+" FROM agent_canned_responses WHERE account_sid = ? "+
		"ORDER BY category, friendly_name, seq LIMIT ?", scanCanned, a.AccountSID, maxCanned)
	if err != nil {
		return err
	}
	rows := make([]cannedJSON, len(list))
	for i, c := range list {
		rows[i] = h.cannedJSON(c)
	}
	return rest.WriteJSON(w, http.StatusOK, map[string]any{"canned_responses": rows})
}
