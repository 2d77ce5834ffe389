package chat

import (
	"net/http"

	"github.com/parleychat/parley/internal/rest"
)

// memberFields reads the fields CreateMember and UpdateMember share.
func memberFields(f *rest.Form) (memberPatch, error) {
	var p memberPatch
	var errs [4]error
	if role := f.SID("RoleSid", "RL"); role != "" {
		p.RoleSID = &role
	}
	if n := f.Int("LastConsumedMessageIndex", 0, 1<<31-1); n != nil {
		v := int64(*n)
		p.LastConsumedMessageIndex = &v
	}
	p.Attributes, errs[0] = attributes(f, "Attributes")
	p.LastConsumptionTimestamp, errs[1] = date(f, "LastConsumptionTimestamp")
	p.DateCreated, errs[2] = date(f, "DateCreated")
	p.DateUpdated, errs[3] = date(f, "DateUpdated")
	return p, firstErr(append([]error{f.Err()}, errs[:]...)...)
}

// channelOf reads the path's service SID and channel reference.
func (h *handlers) channelOf(r *http.Request) (caller, *rest.Form, string, string, error) {
	c, f, is, err := h.request(r, true)
	if err != nil {
		return c, f, is, "", err
	}
	ref, err := pathRef(r, "ChannelSid")
	return c, f, is, ref, err
}

// childOf also reads the child's {Sid} (a SID, or an identity for members).
func (h *handlers) childOf(r *http.Request) (caller, *rest.Form, string, string, string, error) {
	c, f, is, ch, err := h.channelOf(r)
	if err != nil {
		return c, f, is, ch, "", err
	}
	ref, err := pathRef(r, "Sid")
	return c, f, is, ch, ref, err
}

func (h *handlers) createMember(w http.ResponseWriter, r *http.Request) error {
	c, f, is, ch, err := h.channelOf(r)
	if err != nil {
		return err
	}
	identity := f.String("Identity")
	p, err := memberFields(f)
	if err := firstErr(err, validIdentity("Identity", identity, "MB")); err != nil {
		return err
	}
	m := Member{Identity: identity, Attributes: "{}", LastConsumedMessageIndex: p.LastConsumedMessageIndex}
	set(&m.RoleSID, p.RoleSID)
	set(&m.Attributes, p.Attributes)
	set(&m.LastConsumptionTimestamp, p.LastConsumptionTimestamp)
	set(&m.Created, p.DateCreated)
	set(&m.Updated, p.DateUpdated)
	m, err = h.s.createMember(r.Context(), c, is, ch, m)
	if err != nil {
		return err
	}
	return created(w, h.s.memberJSON(m))
}

func (h *handlers) listMembers(w http.ResponseWriter, r *http.Request) error {
	c, f, is, ch, err := h.channelOf(r)
	if err != nil {
		return err
	}
	p, err := page(f, MaxPageSize)
	if err != nil {
		return err
	}
	chSID, rows, err := h.s.listMembers(r.Context(), c, is, ch, f.Strings("Identity"), p)
	if err != nil {
		return err
	}
	return writeList(w, r, h, "members", channelPath(is, chSID)+"/Members", mapRows(rows, h.s.memberJSON),
		func(j memberJSON) int64 { return j.seq }, p)
}

func (h *handlers) fetchMember(w http.ResponseWriter, r *http.Request) error {
	c, _, is, ch, ref, err := h.childOf(r)
	if err != nil {
		return err
	}
	_, _, m, err := h.s.member(r.Context(), c, is, ch, ref)
	if err != nil {
		return err
	}
	return ok(w, h.s.memberJSON(m))
}

func (h *handlers) updateMember(w http.ResponseWriter, r *http.Request) error {
	c, f, is, ch, ref, err := h.childOf(r)
	if err != nil {
		return err
	}
	p, err := memberFields(f)
	if err != nil {
		return err
	}
	m, err := h.s.updateMember(r.Context(), c, is, ch, ref, p)
	if err != nil {
		return err
	}
	return ok(w, h.s.memberJSON(m))
}

func (h *handlers) deleteMember(w http.ResponseWriter, r *http.Request) error {
	c, _, is, ch, ref, err := h.childOf(r)
	if err != nil {
		return err
	}
	if err := h.s.deleteMember(r.Context(), c, is, ch, ref); err != nil {
		return err
	}
	return rest.NoContent(w)
}
