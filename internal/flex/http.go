package flex

import (
	"errors"
	"net/http"

	"github.com/parleychat/parley/internal/rest"
)

// Routes mounts Flex v1's FlexFlows and WebChannels.
func (s *Service) Routes(rt *rest.Router) {
	h := &handlers{s: s, rt: rt}
	rt.Handle("GET /flex-api/v1/FlexFlows", h.listFlows)
	rt.Handle("POST /flex-api/v1/FlexFlows", h.createFlow)
	rt.Handle("GET /flex-api/v1/FlexFlows/{Sid}", h.fetchFlow)
	rt.Handle("POST /flex-api/v1/FlexFlows/{Sid}", h.updateFlow)
	rt.Handle("DELETE /flex-api/v1/FlexFlows/{Sid}", h.deleteFlow)
	// The web chat widget's configuration: read by the widget from any site.
	rt.Public("GET /flex-api/v1/FlexFlows/{Sid}/WebChatConfiguration", h.fetchWebChatConfig)
	rt.Handle("POST /flex-api/v1/FlexFlows/{Sid}/WebChatConfiguration", h.updateWebChatConfig)
	rt.Handle("DELETE /flex-api/v1/FlexFlows/{Sid}/WebChatConfiguration", h.deleteWebChatConfig)

	// The widget calls WebChannels from the website's origin.
	rt.Public("OPTIONS /flex-api/v1/WebChannels", preflight)
	rt.Public("OPTIONS /flex-api/v1/WebChannels/{Sid}", preflight)
	rt.Handle("GET /flex-api/v1/WebChannels", h.listWebChannels)
	rt.Public("POST /flex-api/v1/WebChannels", cors(rt.Authenticated(h.createWebChannel)))
	rt.Public("GET /flex-api/v1/WebChannels/{Sid}", cors(rt.Authenticated(h.fetchWebChannel)))
	rt.Public("POST /flex-api/v1/WebChannels/{Sid}", cors(rt.Authenticated(h.updateWebChannel)))
	rt.Handle("DELETE /flex-api/v1/WebChannels/{Sid}", h.deleteWebChannel)
}

type handlers struct {
	s  *Service
	rt *rest.Router
}

// flowJSON is flex.v1.flex_flow.
type flowJSON struct {
	AccountSID      string      `json:"account_sid"`
	DateCreated     rest.Time   `json:"date_created"`
	DateUpdated     rest.Time   `json:"date_updated"`
	SID             string      `json:"sid"`
	FriendlyName    string      `json:"friendly_name"`
	ChatServiceSID  string      `json:"chat_service_sid"`
	ChannelType     string      `json:"channel_type"`
	ContactIdentity *string     `json:"contact_identity"`
	Enabled         bool        `json:"enabled"`
	IntegrationType *string     `json:"integration_type"`
	Integration     Integration `json:"integration"`
	LongLived       bool        `json:"long_lived"`
	JanitorEnabled  bool        `json:"janitor_enabled"`
	URL             string      `json:"url"`
	seq             int64
}

func strOrNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (h *handlers) flowJSON(f Flow) flowJSON {
	return flowJSON{AccountSID: f.AccountSID, DateCreated: rest.Time(rest.Millis(f.Created)), DateUpdated: rest.Time(rest.Millis(f.Updated)),
		SID: f.SID, FriendlyName: f.FriendlyName, ChatServiceSID: f.ChatServiceSID, ChannelType: f.ChannelType,
		ContactIdentity: strOrNull(f.ContactIdentity), Enabled: f.Enabled, IntegrationType: strOrNull(f.IntegrationType),
		Integration: f.Integration, LongLived: f.LongLived, JanitorEnabled: f.JanitorEnabled,
		URL: h.rt.URL("/flex-api/v1/FlexFlows/" + f.SID), seq: f.Seq}
}

// webChannelJSON is flex.v1.web_channel.
type webChannelJSON struct {
	AccountSID  string    `json:"account_sid"`
	FlexFlowSID string    `json:"flex_flow_sid"`
	SID         string    `json:"sid"`
	URL         string    `json:"url"`
	DateCreated rest.Time `json:"date_created"`
	DateUpdated rest.Time `json:"date_updated"`
	seq         int64
}

func (h *handlers) channelJSON(c Channel) webChannelJSON {
	return webChannelJSON{AccountSID: c.AccountSID, FlexFlowSID: c.FlexFlowSID, SID: c.SID,
		URL: h.rt.URL("/flex-api/v1/WebChannels/" + c.SID), DateCreated: rest.Time(rest.Millis(c.Created)),
		DateUpdated: rest.Time(rest.Millis(c.Updated)), seq: c.Seq}
}

// admin returns the caller's account when it uses account credentials.
func admin(r *http.Request) (string, error) {
	p := rest.PrincipalFrom(r.Context())
	if err := p.RequireAdmin(); err != nil {
		return "", err
	}
	return p.AccountSID, nil
}

// flowForm reads the FlexFlow parameters that were given.
func flowForm(f *rest.Form) FlowInput {
	opt := func(name string) *string { return f.Optional(name) }
	sid := func(name, prefix string) *string {
		if !f.Has(name) {
			return nil
		}
		v := f.SID(name, prefix)
		return &v
	}
	oneOf := func(name string, allowed ...string) *string {
		if !f.Has(name) {
			return nil
		}
		v := f.OneOf(name, allowed...)
		if v == "" {
			f.Required(name) // given but empty: say so
		}
		return &v
	}
	f.MaxLen("FriendlyName", 64)
	in := FlowInput{
		FriendlyName: opt("FriendlyName"), ChatServiceSID: sid("ChatServiceSid", "IS"),
		ChannelType: oneOf("ChannelType", ChannelTypes...), ContactIdentity: opt("ContactIdentity"),
		Enabled: f.Bool("Enabled"), IntegrationType: oneOf("IntegrationType", IntegrationTypes...),
		LongLived: f.Bool("LongLived"), JanitorEnabled: f.Bool("JanitorEnabled"),
		Integration: IntegrationInput{
			FlowSID: sid("Integration.FlowSid", "FW"), WorkspaceSID: sid("Integration.WorkspaceSid", "WS"),
			WorkflowSID: sid("Integration.WorkflowSid", "WW"), Channel: opt("Integration.Channel"),
			Timeout: f.Int("Integration.Timeout", 1, 2592000), Priority: f.Int("Integration.Priority", 0, 1<<31-1),
			CreationOnMessage: f.Bool("Integration.CreationOnMessage"), RetryCount: f.Int("Integration.RetryCount", 0, 3),
		},
	}
	if f.Has("Integration.Url") {
		u := f.URL("Integration.Url")
		in.Integration.URL = &u
	}
	return in
}

func (h *handlers) createFlow(w http.ResponseWriter, r *http.Request) error {
	acct, err := admin(r)
	if err != nil {
		return err
	}
	f, err := h.rt.Form(r)
	if err != nil {
		return err
	}
	f.Required("FriendlyName")
	f.Required("ChatServiceSid")
	f.Required("ChannelType")
	in := flowForm(f)
	if err := f.Err(); err != nil {
		return err
	}
	flow, err := h.s.CreateFlow(r.Context(), acct, in)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusCreated, h.flowJSON(flow))
}

// listRequest reads a list request: the caller's account (account
// credentials only), its query and the page asked for.
func (h *handlers) listRequest(r *http.Request) (string, *rest.Form, rest.Page, error) {
	acct, err := admin(r)
	if err != nil {
		return "", nil, rest.Page{}, err
	}
	f, err := h.rt.Form(r)
	if err != nil {
		return "", nil, rest.Page{}, err
	}
	page, err := rest.ParsePage(f, 1000)
	return acct, f, page, err
}

func (h *handlers) listFlows(w http.ResponseWriter, r *http.Request) error {
	acct, f, page, err := h.listRequest(r)
	if err != nil {
		return err
	}
	flows, err := h.s.Flows(r.Context(), acct, f.String("FriendlyName"), page)
	if err != nil {
		return err
	}
	rows := make([]flowJSON, len(flows))
	for i, fl := range flows {
		rows[i] = h.flowJSON(fl)
	}
	l := rest.List[flowJSON]{Key: "flex_flows", URL: h.rt.URL("/flex-api/v1/FlexFlows"), Rows: rows,
		Seq: func(f flowJSON) int64 { return f.seq }, Page: page, Query: r.URL.Query()}
	return l.Write(w)
}

// pathFlow checks the caller and the path's FO SID.
func (h *handlers) pathFlow(r *http.Request) (acct, sid string, err error) {
	if acct, err = admin(r); err != nil {
		return "", "", err
	}
	sid, err = rest.PathSID(r, "Sid", "FO")
	return acct, sid, err
}

func (h *handlers) fetchFlow(w http.ResponseWriter, r *http.Request) error {
	acct, sid, err := h.pathFlow(r)
	if err != nil {
		return err
	}
	flow, err := h.s.Flow(r.Context(), acct, sid)
	if err != nil {
		return h.notFound(r, err)
	}
	return rest.WriteJSON(w, http.StatusOK, h.flowJSON(flow))
}

func (h *handlers) updateFlow(w http.ResponseWriter, r *http.Request) error {
	acct, sid, err := h.pathFlow(r)
	if err != nil {
		return err
	}
	f, err := h.rt.Form(r)
	if err != nil {
		return err
	}
	in := flowForm(f)
	if err := f.Err(); err != nil {
		return err
	}
	flow, err := h.s.UpdateFlow(r.Context(), acct, sid, in)
	if err != nil {
		return h.notFound(r, err)
	}
	return rest.WriteJSON(w, http.StatusOK, h.flowJSON(flow))
}

func (h *handlers) deleteFlow(w http.ResponseWriter, r *http.Request) error {
	acct, sid, err := h.pathFlow(r)
	if err != nil {
		return err
	}
	if err := h.s.DeleteFlow(r.Context(), acct, sid); err != nil {
		return h.notFound(r, err)
	}
	return rest.NoContent(w)
}

func (h *handlers) notFound(r *http.Request, err error) error {
	if errors.Is(err, ErrNotFound) {
		return rest.NotFound("The requested resource %s was not found", r.URL.Path)
	}
	return err
}

// caller is who is asking for a web channel: account credentials or a
// guest token. Other access tokens may not use WebChannels.
func caller(r *http.Request) (Caller, error) {
	p := rest.PrincipalFrom(r.Context())
	if !p.Guest {
		if err := p.RequireAdmin(); err != nil {
			return Caller{}, err
		}
	}
	return Caller{AccountSID: p.AccountSID, Guest: !p.Admin && p.Guest, Identity: p.Identity,
		ChatServiceSID: p.ChatServiceSID, Origin: r.Header.Get("Origin")}, nil
}

func (h *handlers) createWebChannel(w http.ResponseWriter, r *http.Request) error {
	who, err := caller(r)
	if err != nil {
		return err
	}
	f, err := h.rt.Form(r)
	if err != nil {
		return err
	}
	in := WebChannelInput{FlexFlowSID: f.Required("FlexFlowSid"), Identity: f.Required("Identity"),
		CustomerFriendlyName: f.String("CustomerFriendlyName"), ChatFriendlyName: f.String("ChatFriendlyName"),
		ChatUniqueName: f.String("ChatUniqueName"), PreEngagementData: f.String("PreEngagementData")}
	// Twilio's widget sends CustomerFriendlyName and ChatFriendlyName even
	// when empty, so presence is what is required.
	for _, name := range []string{"CustomerFriendlyName", "ChatFriendlyName"} {
		if !f.Has(name) {
			f.Required(name)
		}
	}
	f.SID("FlexFlowSid", "FO")
	f.MaxLen("Identity", 256)
	f.MaxLen("CustomerFriendlyName", 256)
	f.MaxLen("ChatFriendlyName", 256)
	f.MaxLen("ChatUniqueName", 256)
	f.MaxLen("PreEngagementData", 16384)
	if err := f.Err(); err != nil {
		return err
	}
	c, err := h.s.CreateWebChannel(r.Context(), who, in)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusCreated, h.channelJSON(c))
}

func (h *handlers) listWebChannels(w http.ResponseWriter, r *http.Request) error {
	acct, _, page, err := h.listRequest(r)
	if err != nil {
		return err
	}
	chans, err := h.s.WebChannels(r.Context(), acct, page)
	if err != nil {
		return err
	}
	rows := make([]webChannelJSON, len(chans))
	for i, c := range chans {
		rows[i] = h.channelJSON(c)
	}
	l := rest.List[webChannelJSON]{Key: "flex_chat_channels", URL: h.rt.URL("/flex-api/v1/WebChannels"), Rows: rows,
		Seq: func(c webChannelJSON) int64 { return c.seq }, Page: page, Query: r.URL.Query()}
	return l.Write(w)
}

// pathChannel reads the path's web channel; a guest sees only its own.
func (h *handlers) pathChannel(r *http.Request) (Channel, error) {
	who, err := caller(r)
	if err != nil {
		return Channel{}, err
	}
	sid, err := rest.PathSID(r, "Sid", "CH")
	if err != nil {
		return Channel{}, err
	}
	c, err := h.s.WebChannel(r.Context(), who.AccountSID, sid)
	if err == nil && who.Guest && c.Identity != who.Identity {
		err = ErrNotFound
	}
	return c, h.notFound(r, err)
}

func (h *handlers) fetchWebChannel(w http.ResponseWriter, r *http.Request) error {
	c, err := h.pathChannel(r)
	if err != nil {
		return err
	}
	return rest.WriteJSON(w, http.StatusOK, h.channelJSON(c))
}

func (h *handlers) updateWebChannel(w http.ResponseWriter, r *http.Request) error {
	c, err := h.pathChannel(r)
	if err != nil {
		return err
	}
	f, err := h.rt.Form(r)
	if err != nil {
		return err
	}
	inactive := f.OneOf("ChatStatus", "inactive") == "inactive"
	f.MaxLen("PostEngagementData", 16384)
	post := f.Optional("PostEngagementData")
	if err := f.Err(); err != nil {
		return err
	}
	c, err = h.s.UpdateWebChannel(r.Context(), c.AccountSID, c.SID, inactive, post)
	if err != nil {
		return h.notFound(r, err)
	}
	return rest.WriteJSON(w, http.StatusOK, h.channelJSON(c))
}

func (h *handlers) deleteWebChannel(w http.ResponseWriter, r *http.Request) error {
	acct, err := admin(r)
	if err != nil {
		return err
	}
	sid, err := rest.PathSID(r, "Sid", "CH")
	if err != nil {
		return err
	}
	if err := h.s.DeleteWebChannel(r.Context(), acct, sid); err != nil {
		return h.notFound(r, err)
	}
	return rest.NoContent(w)
}

// cors lets a website's widget read the answer, refusals included (it
// wraps the authentication: a widget must see its token's 401 to renew
// it). Credentials are the guest
// token in a header, never cookies, so any origin may be echoed here; the
// account's origin allow-list is enforced on the guest itself.
func cors(h rest.HandlerFunc) rest.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if o := r.Header.Get("Origin"); o != "" {
			w.Header().Set("Access-Control-Allow-Origin", o)
			w.Header().Add("Vary", "Origin")
		}
		return h(w, r)
	}
}

func preflight(w http.ResponseWriter, r *http.Request) error {
	if o := r.Header.Get("Origin"); o != "" {
		w.Header().Set("Access-Control-Allow-Origin", o)
		w.Header().Add("Vary", "Origin")
	}
	w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Twilio-Token")
	w.Header().Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return nil
}
