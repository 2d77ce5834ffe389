package chat

import (
	"net/http"

	"github.com/parleychat/parley/internal/rest"
)

// messageFields reads the fields CreateMessage and UpdateMessage share.
func messageFields(f *rest.Form) (messagePatch, error) {
	var p messagePatch
	var errs [5]error
	p.Body = f.Optional("Body")
	if p.Body != nil {
		errs[0] = validBody(*p.Body)
	}
	p.Attributes, errs[1] = attributes(f, "Attributes")
	p.From, errs[2] = optName(f, "From", MaxIdentity)
	p.LastUpdatedBy, errs[3] = optName(f, "LastUpdatedBy", MaxIdentity)
	p.DateCreated, errs[4] = date(f, "DateCreated")
	var dateErr error
	p.DateUpdated, dateErr = date(f, "DateUpdated")
	return p, firstErr(append([]error{f.Err(), dateErr}, errs[:]...)...)
}

// createMessage sends a message. ClientMessageId is Parley's own
// parameter (not Twilio's): a retry carrying the same one gets the
// original message back, with the same 201, instead of a copy.
func (h *handlers) createMessage(w http.ResponseWriter, r *http.Request) error {
	c, f, is, ch, err := h.channelOf(r)
	if err != nil {
		return err
	}
	if f.Has("MediaSid") {
		return rest.InvalidParam("MediaSid", "media messages are not supported by Parley")
	}
	p, err := messageFields(f)
	clientID := f.String("ClientMessageId")
	if err := firstErr(err, validName("ClientMessageId", clientID, MaxClientMessageID)); err != nil {
		return err
	}
	m := Message{ClientMessageID: clientID}
	set(&m.Body, p.Body)
	set(&m.Attributes, p.Attributes)
	set(&m.From, p.From)
	set(&m.LastUpdatedBy, p.LastUpdatedBy)
	set(&m.Created, p.DateCreated)
	set(&m.Updated, p.DateUpdated)
	m, _, err = h.s.sendMessage(r.Context(), c, is, ch, m)
	if err != nil {
		return err
	}
	return created(w, h.s.messageJSON(m))
}

func (h *handlers) listMessages(w http.ResponseWriter, r *http.Request) error {
	c, f, is, ch, err := h.channelOf(r)
	if err != nil {
		return err
	}
	order := f.OneOf("Order", "asc", "desc")
	p, err := page(f, MaxPageSize)
	if err != nil {
		return err
	}
	desc := order == "desc"
	chSID, rows, err := h.s.listMessages(r.Context(), c, is, ch, desc, p)
	if err != nil {
		return err
	}
	seq := func(j messageJSON) int64 { return j.seq }
	if desc {
		seq = func(j messageJSON) int64 { return descBase - j.seq }
	}
	return writeList(w, r, h, "messages", channelPath(is, chSID)+"/Messages", mapRows(rows, h.s.messageJSON), seq, p)
}

func (h *handlers) fetchMessage(w http.ResponseWriter, r *http.Request) error {
	c, _, is, ch, sid, err := h.childOf(r)
	if err != nil {
		return err
	}
	_, _, m, err := h.s.message(r.Context(), c, is, ch, sid)
	if err != nil {
		return err
	}
	return ok(w, h.s.messageJSON(m))
}

func (h *handlers) updateMessage(w http.ResponseWriter, r *http.Request) error {
	c, f, is, ch, sid, err := h.childOf(r)
	if err != nil {
		return err
	}
	p, err := messageFields(f)
	if err != nil {
		return err
	}
	m, err := h.s.updateMessage(r.Context(), c, is, ch, sid, p)
	if err != nil {
		return err
	}
	return ok(w, h.s.messageJSON(m))
}

func (h *handlers) deleteMessage(w http.ResponseWriter, r *http.Request) error {
	c, _, is, ch, sid, err := h.childOf(r)
	if err != nil {
		return err
	}
	if err := h.s.deleteMessage(r.Context(), c, is, ch, sid); err != nil {
		return err
	}
	return rest.NoContent(w)
}

// --- channel webhooks ---

// webhookFields reads the Configuration.* parameters into a change.
func webhookFields(f *rest.Form) (func(*Webhook), error) {
	u := f.URL("Configuration.Url")
	f.MaxLen("Configuration.Url", MaxURL)
	method := f.OneOf("Configuration.Method", "GET", "POST")
	flow := f.SID("Configuration.FlowSid", "FW")
	retries := f.Int("Configuration.RetryCount", 0, 3)
	var filters []string
	var filtersErr, triggersErr error
	if f.Has("Configuration.Filters") {
		filters, filtersErr = parseFilters("Configuration.Filters", f.Strings("Configuration.Filters"), channelEvents)
	}
	triggers := f.Strings("Configuration.Triggers")
	for _, t := range triggers {
		triggersErr = firstErr(triggersErr, validIdentity("Configuration.Triggers", t, ""))
	}
	if err := firstErr(f.Err(), filtersErr, triggersErr); err != nil {
		return nil, err
	}
	return func(w *Webhook) {
		if f.Has("Configuration.Url") {
			w.URL = u
		}
		if method != "" {
			w.Method = method
		}
		if f.Has("Configuration.FlowSid") {
			w.FlowSID = flow
		}
		set(&w.RetryCount, retries)
		if f.Has("Configuration.Filters") {
			w.Filters = filters
		}
		if f.Has("Configuration.Triggers") {
			w.Triggers = triggers
		}
	}, nil
}

func (h *handlers) createWebhook(w http.ResponseWriter, r *http.Request) error {
	c, f, is, ch, err := h.channelOf(r)
	if err != nil {
		return err
	}
	typ := f.OneOf("Type", "webhook", "trigger", "studio")
	if typ == "" && f.Err() == nil {
		return rest.MissingParam("Type")
	}
	patch, err := webhookFields(f)
	if err != nil {
		return err
	}
	hook := Webhook{Type: typ, Method: "POST"}
	patch(&hook)
	hook, err = h.s.createWebhook(r.Context(), c, is, ch, hook)
	if err != nil {
		return err
	}
	return created(w, h.s.webhookJSON(hook))
}

func (h *handlers) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	c, f, is, ch, err := h.channelOf(r)
	if err != nil {
		return err
	}
	p, err := page(f, MaxWebhooks)
	if err != nil {
		return err
	}
	chSID, rows, err := h.s.listWebhooks(r.Context(), c, is, ch, p)
	if err != nil {
		return err
	}
	return writeList(w, r, h, "webhooks", channelPath(is, chSID)+"/Webhooks", mapRows(rows, h.s.webhookJSON),
		func(j webhookJSON) int64 { return j.seq }, p)
}

func (h *handlers) webhookRef(r *http.Request) (caller, *rest.Form, string, string, string, error) {
	c, f, is, ch, err := h.channelOf(r)
	if err != nil {
		return c, f, is, ch, "", err
	}
	sid, err := rest.PathSID(r, "Sid", "WH")
	return c, f, is, ch, sid, err
}

func (h *handlers) fetchWebhook(w http.ResponseWriter, r *http.Request) error {
	c, _, is, ch, sid, err := h.webhookRef(r)
	if err != nil {
		return err
	}
	hook, err := h.s.webhook(r.Context(), c, is, ch, sid)
	if err != nil {
		return err
	}
	return ok(w, h.s.webhookJSON(hook))
}

func (h *handlers) updateWebhook(w http.ResponseWriter, r *http.Request) error {
	c, f, is, ch, sid, err := h.webhookRef(r)
	if err != nil {
		return err
	}
	patch, err := webhookFields(f)
	if err != nil {
		return err
	}
	hook, err := h.s.updateWebhook(r.Context(), c, is, ch, sid, patch)
	if err != nil {
		return err
	}
	return ok(w, h.s.webhookJSON(hook))
}

func (h *handlers) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	c, _, is, ch, sid, err := h.webhookRef(r)
	if err != nil {
		return err
	}
	if err := h.s.deleteWebhook(r.Context(), c, is, ch, sid); err != nil {
		return err
	}
	return rest.NoContent(w)
}
