package flex

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

// WebChatConfig is what the web chat widget shows for a Flex Flow, set by
// the business on the server so that it can change its form without
// touching its website. Options the page passes to the widget win over it.
type WebChatConfig struct {
	// PreEngagement is Twilio's preEngagementConfig ({description, fields, submitLabel}).
	PreEngagement json.RawMessage `json:"pre_engagement_config"`
	// PostEngagement turns the post-chat survey on (true) or off (false).
	PostEngagement json.RawMessage `json:"post_engagement_config"`
	// Colors and Strings are the widget's `colors` and `strings` options.
	Colors  map[string]string `json:"colors"`
	Strings map[string]string `json:"strings"`
}

// webChatConfigJSON is the WebChatConfiguration resource.
type webChatConfigJSON struct {
	AccountSID  string `json:"account_sid"`
	FlexFlowSID string `json:"flex_flow_sid"`
	WebChatConfig
	DateCreated *rest.Time `json:"date_created"`
	DateUpdated *rest.Time `json:"date_updated"`
	URL         string     `json:"url"`
}

// Limits on what a configuration may hold.
const (
	maxConfigJSON  = 16384
	maxFormFields  = 30
	maxStringValue = 500
)

var (
	fieldTypes = map[string]bool{"InputItem": true, "SelectItem": true, "TextareaItem": true, "CheckboxItem": true}
	colorNames = map[string]bool{"primary": true, "onPrimary": true, "background": true, "text": true, "agentBubble": true,
		"agentText": true, "ownBubble": true, "ownText": true, "focus": true}
	// cssColor accepts hex, rgb()/hsl() and named colours: nothing that can
	// end the CSS value it is put in.
	cssColor  = regexp.MustCompile(`^(#[0-9a-fA-F]{3,8}|(rgb|hsl)a?\([0-9.,%\s/]+\)|[a-zA-Z]{3,20})$`)
	stringKey = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{0,40}$`)
)

// webChatConfigForm reads and checks the POST parameters, over the current config.
func webChatConfigForm(f *rest.Form, cfg WebChatConfig) (WebChatConfig, error) {
	for _, p := range []string{"PreEngagementConfig", "PostEngagementConfig", "Colors", "Strings"} {
		f.MaxLen(p, maxConfigJSON)
	}
	if err := f.Err(); err != nil {
		return cfg, err
	}
	if f.Has("PreEngagementConfig") {
		raw, err := checkPreEngagement(f.String("PreEngagementConfig"))
		if err != nil {
			return cfg, err
		}
		cfg.PreEngagement = raw
	}
	if f.Has("PostEngagementConfig") {
		v := strings.TrimSpace(f.String("PostEngagementConfig"))
		if v != "true" && v != "false" && v != "" {
			return cfg, rest.InvalidParam("PostEngagementConfig", "must be true or false")
		}
		cfg.PostEngagement = nil
		if v != "" {
			cfg.PostEngagement = json.RawMessage(v)
		}
	}
	var err error
	if f.Has("Colors") {
		if cfg.Colors, err = stringMap(f.String("Colors"), "Colors", func(k, v string) bool { return colorNames[k] && cssColor.MatchString(v) }); err != nil {
			return cfg, err
		}
	}
	if f.Has("Strings") {
		if cfg.Strings, err = stringMap(f.String("Strings"), "Strings", func(k, v string) bool {
			return stringKey.MatchString(k) && len([]rune(v)) <= maxStringValue
		}); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// checkPreEngagement checks the shape the widget renders: an object with
// a fields list of {label, type, attributes: {name}}.
func checkPreEngagement(s string) (json.RawMessage, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var form struct {
		Description *string `json:"description"`
		SubmitLabel *string `json:"submitLabel"`
		Fields      []struct {
			Label      string         `json:"label"`
			Type       string         `json:"type"`
			Attributes map[string]any `json:"attributes"`
		} `json:"fields"`
	}
	bad := func(format string, args ...any) error {
		return rest.InvalidParam("PreEngagementConfig", format, args...)
	}
	if err := json.Unmarshal([]byte(s), &form); err != nil {
		return nil, bad("must be a JSON object {description, fields, submitLabel}: %v", err)
	}
	if len(form.Fields) > maxFormFields {
		return nil, bad("has %d fields; at most %d", len(form.Fields), maxFormFields)
	}
	for i, fl := range form.Fields {
		name, _ := fl.Attributes["name"].(string)
		switch {
		case fl.Label == "":
			return nil, bad("field %d has no label", i)
		case !fieldTypes[fl.Type]:
			return nil, bad("field %d: type %q is not InputItem, SelectItem, TextareaItem or CheckboxItem", i, fl.Type)
		case !stringKey.MatchString(name):
			return nil, bad("field %d: attributes.name %q must be letters and digits", i, name)
		}
		if p, ok := fl.Attributes["pattern"].(string); ok {
			if _, err := regexp.Compile(p); err != nil {
				return nil, bad("field %d: pattern: %v", i, err)
			}
		}
	}
	return json.RawMessage(s), nil
}

func stringMap(s, param string, ok func(k, v string) bool) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, rest.InvalidParam(param, "must be a JSON object of strings: %v", err)
	}
	for k, v := range m {
		if !ok(k, v) {
			return nil, rest.InvalidParam(param, "%q: %q is not allowed", k, v)
		}
	}
	return m, nil
}

// WebChatConfig returns a flow's web chat configuration (empty when none
// was set). Anyone may read it: it is what the widget shows any visitor.
func (s *Service) WebChatConfig(ctx context.Context, flowSID string) (accountSID string, cfg WebChatConfig, created, updated int64, err error) {
	var raw string
	err = s.db.QueryRowContext(ctx, `SELECT f.account_sid, COALESCE(c.config, ''), COALESCE(c.date_created, 0), COALESCE(c.date_updated, 0)
		FROM flex_flows f LEFT JOIN flex_webchat_configs c ON c.sid = f.sid WHERE f.sid = ?`, flowSID).
		Scan(&accountSID, &raw, &created, &updated)
	if err != nil {
		return "", cfg, 0, 0, notFound(store.NoRows(err))
	}
	if raw != "" {
		err = json.Unmarshal([]byte(raw), &cfg)
	}
	return accountSID, cfg, created, updated, err
}

// SetWebChatConfig stores a flow's web chat configuration.
func (s *Service) SetWebChatConfig(ctx context.Context, accountSID, flowSID string, cfg WebChatConfig) error {
	if _, err := s.st.flow(ctx, accountSID, flowSID); err != nil {
		return notFound(err)
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	now := store.Now()
	_, err = s.db.ExecContext(ctx, `INSERT INTO flex_webchat_configs (sid, account_sid, config, date_created, date_updated)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (sid) DO UPDATE SET config = excluded.config, date_updated = excluded.date_updated`,
		flowSID, accountSID, string(b), now, now)
	return err
}

// DeleteWebChatConfig removes it (the widget's defaults apply again).
func (s *Service) DeleteWebChatConfig(ctx context.Context, accountSID, flowSID string) error {
	if _, err := s.st.flow(ctx, accountSID, flowSID); err != nil {
		return notFound(err)
	}
	_, err := s.db.ExecContext(ctx, `DELETE FROM flex_webchat_configs WHERE sid = ? AND account_sid = ?`, flowSID, accountSID)
	return err
}

func (h *handlers) webChatConfigJSON(acct, flow string, cfg WebChatConfig, created, updated int64) webChatConfigJSON {
	out := webChatConfigJSON{AccountSID: acct, FlexFlowSID: flow, WebChatConfig: cfg,
		URL: h.rt.URL("/flex-api/v1/FlexFlows/" + flow + "/WebChatConfiguration")}
	if created > 0 {
		c, u := rest.Time(rest.Millis(created)), rest.Time(rest.Millis(updated))
		out.DateCreated, out.DateUpdated = &c, &u
	}
	if out.Colors == nil {
		out.Colors = map[string]string{}
	}
	if out.Strings == nil {
		out.Strings = map[string]string{}
	}
	return out
}

// fetchWebChatConfig is public and readable from any website (the widget
// reads it before the visitor has a token).
func (h *handlers) fetchWebChatConfig(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Cache-Control", "no-cache")
	sid, err := rest.PathSID(r, "Sid", "FO")
	if err != nil {
		return err
	}
	acct, cfg, created, updated, err := h.s.WebChatConfig(r.Context(), sid)
	if err != nil {
		return h.notFound(r, err)
	}
	return rest.WriteJSON(w, http.StatusOK, h.webChatConfigJSON(acct, sid, cfg, created, updated))
}

// updateWebChatConfig sets the parameters given, keeping the others.
func (h *handlers) updateWebChatConfig(w http.ResponseWriter, r *http.Request) error {
	acct, sid, err := h.pathFlow(r)
	if err != nil {
		return err
	}
	f, err := h.rt.Form(r)
	if err != nil {
		return err
	}
	_, cfg, _, _, err := h.s.WebChatConfig(r.Context(), sid)
	if err != nil {
		return h.notFound(r, err)
	}
	if cfg, err = webChatConfigForm(f, cfg); err != nil {
		return err
	}
	if err := h.s.SetWebChatConfig(r.Context(), acct, sid, cfg); err != nil {
		return h.notFound(r, err)
	}
	_, cfg, created, updated, err := h.s.WebChatConfig(r.Context(), sid)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusOK, h.webChatConfigJSON(acct, sid, cfg, created, updated))
}

func (h *handlers) deleteWebChatConfig(w http.ResponseWriter, r *http.Request) error {
	acct, sid, err := h.pathFlow(r)
	if err != nil {
		return err
	}
	if err := h.s.DeleteWebChatConfig(r.Context(), acct, sid); err != nil {
		return h.notFound(r, err)
	}
	return rest.NoContent(w)
}
