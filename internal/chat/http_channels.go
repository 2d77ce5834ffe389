package chat

import (
	"net/http"

	"github.com/parleychat/parley/internal/rest"
)

// channelFields reads the fields CreateChannel and UpdateChannel share.
// Names may be 64 characters on create and 256 on update, as the spec says.
func channelFields(f *rest.Form, maxName int) (channelPatch, error) {
	var p channelPatch
	var errs [6]error
	p.FriendlyName, errs[0] = optName(f, "FriendlyName", maxName)
	p.UniqueName, errs[1] = optName(f, "UniqueName", maxName)
	p.Attributes, errs[2] = attributes(f, "Attributes")
	p.CreatedBy, errs[3] = optName(f, "CreatedBy", MaxIdentity)
	p.DateCreated, errs[4] = date(f, "DateCreated")
	p.DateUpdated, errs[5] = date(f, "DateUpdated")
	if p.UniqueName != nil && isSID("CH", *p.UniqueName) {
		return p, rest.InvalidParam("UniqueName", "%q looks like a channel SID; choose another", *p.UniqueName)
	}
	return p, firstErr(append([]error{f.Err()}, errs[:]...)...)
}

func (h *handlers) createChannel(w http.ResponseWriter, r *http.Request) error {
	c, f, is, err := h.request(r, true)
	if err != nil {
		return err
	}
	typ := f.OneOf("Type", "public", "private")
	p, err := channelFields(f, 64)
	if err != nil {
		return err
	}
	ch := Channel{Type: "public", Attributes: "{}", CreatedBy: "system"}
	if typ != "" {
		ch.Type = typ
	}
	set(&ch.FriendlyName, p.FriendlyName)
	set(&ch.UniqueName, p.UniqueName)
	set(&ch.Attributes, p.Attributes)
	if p.CreatedBy != nil && *p.CreatedBy != "" {
		ch.CreatedBy = *p.CreatedBy
	}
	set(&ch.Created, p.DateCreated)
	set(&ch.Updated, p.DateUpdated)
	ch, err = h.s.createChannel(r.Context(), c, is, ch)
	if err != nil {
		return err
	}
	return created(w, h.s.channelJSON(ch))
}

func (h *handlers) listChannels(w http.ResponseWriter, r *http.Request) error {
	c, f, is, err := h.request(r, true)
	if err != nil {
		return err
	}
	types := f.Strings("Type")
	for _, t := range types {
		if t != "public" && t != "private" {
			return rest.InvalidParam("Type", "%q is not one of public, private", t)
		}
	}
	p, err := page(f, MaxPageSize)
	if err != nil {
		return err
	}
	rows, err := h.s.listChannels(r.Context(), c, is, types, p)
	if err != nil {
		return err
	}
	return writeList(w, r, h, "channels", servicePath(is)+"/Channels", mapRows(rows, h.s.channelJSON),
		func(j channelJSON) int64 { return j.seq }, p)
}

func (h *handlers) channelRef(r *http.Request) (caller, *rest.Form, string, string, error) {
	c, f, is, err := h.request(r, true)
	if err != nil {
		return c, f, is, "", err
	}
	ref, err := pathRef(r, "Sid")
	return c, f, is, ref, err
}

func (h *handlers) fetchChannel(w http.ResponseWriter, r *http.Request) error {
	c, _, is, ref, err := h.channelRef(r)
	if err != nil {
		return err
	}
	_, ch, err := h.s.channel(r.Context(), c, is, ref)
	if err != nil {
		return err
	}
	return ok(w, h.s.channelJSON(ch))
}

func (h *handlers) updateChannel(w http.ResponseWriter, r *http.Request) error {
	c, f, is, ref, err := h.channelRef(r)
	if err != nil {
		return err
	}
	p, err := channelFields(f, 256)
	if err != nil {
		return err
	}
	ch, err := h.s.updateChannel(r.Context(), c, is, ref, p)
	if err != nil {
		return err
	}
	return ok(w, h.s.channelJSON(ch))
}

func (h *handlers) deleteChannel(w http.ResponseWriter, r *http.Request) error {
	c, _, is, ref, err := h.channelRef(r)
	if err != nil {
		return err
	}
	if err := h.s.deleteChannel(r.Context(), c, is, ref); err != nil {
		return err
	}
	return rest.NoContent(w)
}
