package chat

import (
	"net/http"

	"github.com/parleychat/parley/internal/rest"
)

func (h *handlers) createService(w http.ResponseWriter, r *http.Request) error {
	c, f, _, err := h.request(r, false)
	if err != nil {
		return err
	}
	name := f.Required("FriendlyName")
	if err := firstErr(f.Err(), validName("FriendlyName", name, 256)); err != nil {
		return err
	}
	in, err := h.s.createInstance(r.Context(), c, name)
	if err != nil {
		return err
	}
	return created(w, h.s.serviceJSON(in))
}

func (h *handlers) listServices(w http.ResponseWriter, r *http.Request) error {
	c, f, _, err := h.request(r, false)
	if err != nil {
		return err
	}
	p, err := page(f, MaxPageSize)
	if err != nil {
		return err
	}
	rows, err := h.s.listInstances(r.Context(), c, p)
	if err != nil {
		return err
	}
	return writeList(w, r, h, "services", "/chat/v2/Services", mapRows(rows, h.s.serviceJSON),
		func(j serviceJSON) int64 { return j.seq }, p)
}

func (h *handlers) serviceRef(r *http.Request) (caller, *rest.Form, string, error) {
	c, f, _, err := h.request(r, false)
	if err != nil {
		return c, f, "", err
	}
	sid, err := rest.PathSID(r, "Sid", "IS")
	return c, f, sid, err
}

func (h *handlers) fetchService(w http.ResponseWriter, r *http.Request) error {
	c, _, sid, err := h.serviceRef(r)
	if err != nil {
		return err
	}
	in, err := h.s.instance(r.Context(), c, sid)
	if err != nil {
		return err
	}
	return ok(w, h.s.serviceJSON(in))
}

func (h *handlers) updateService(w http.ResponseWriter, r *http.Request) error {
	c, f, sid, err := h.serviceRef(r)
	if err != nil {
		return err
	}
	patch, err := servicePatch(f)
	if err != nil {
		return err
	}
	in, err := h.s.updateInstance(r.Context(), c, sid, patch)
	if err != nil {
		return err
	}
	return ok(w, h.s.serviceJSON(in))
}

// servicePatch validates every UpdateService parameter and returns the
// change to apply to the stored service.
func servicePatch(f *rest.Form) (func(*Instance) error, error) {
	name, nameErr := optName(f, "FriendlyName", 256)
	roles := [3]string{f.SID("DefaultServiceRoleSid", "RL"), f.SID("DefaultChannelRoleSid", "RL"), f.SID("DefaultChannelCreatorRoleSid", "RL")}
	readStatus, reachability := f.Bool("ReadStatusEnabled"), f.Bool("ReachabilityEnabled")
	typing, consumption := f.Int("TypingIndicatorTimeout", 1, 3600), f.Int("ConsumptionReportInterval", 1, 3600)
	members, userChannels := f.Int("Limits.ChannelMembers", 1, maxServiceLimit), f.Int("Limits.UserChannels", 1, maxServiceLimit)
	preURL, postURL := f.URL("PreWebhookUrl"), f.URL("PostWebhookUrl")
	method := f.OneOf("WebhookMethod", "GET", "POST")
	preRetries, postRetries := f.Int("PreWebhookRetryCount", 0, 5), f.Int("PostWebhookRetryCount", 0, 5)
	compat, compatErr := optName(f, "Media.CompatibilityMessage", 256)
	f.MaxLen("PreWebhookUrl", MaxURL)
	f.MaxLen("PostWebhookUrl", MaxURL)
	var filters []string
	var filtersErr error
	if f.Has("WebhookFilters") {
		filters, filtersErr = parseFilters("WebhookFilters", f.Strings("WebhookFilters"), append(append([]string{}, preEvents...), postEvents...))
	}
	notify, notifyErr := notificationsPatch(f)
	if err := firstErr(f.Err(), nameErr, compatErr, filtersErr, notifyErr); err != nil {
		return nil, err
	}
	return func(in *Instance) error {
		set(&in.FriendlyName, name)
		for i, dst := range []*string{&in.DefaultServiceRoleSID, &in.DefaultChannelRoleSID, &in.DefaultChannelCreatorRoleSID} {
			if roles[i] != "" {
				*dst = roles[i]
			}
		}
		set(&in.ReadStatusEnabled, readStatus)
		set(&in.ReachabilityEnabled, reachability)
		set(&in.TypingIndicatorTimeout, typing)
		set(&in.ConsumptionReportInterval, consumption)
		set(&in.LimitChannelMembers, members)
		set(&in.LimitUserChannels, userChannels)
		if f.Has("PreWebhookUrl") {
			in.PreWebhookURL = preURL
		}
		if f.Has("PostWebhookUrl") {
			in.PostWebhookURL = postURL
		}
		if method != "" {
			in.WebhookMethod = method
		}
		if f.Has("WebhookFilters") {
			in.WebhookFilters = filters
		}
		set(&in.PreWebhookRetryCount, preRetries)
		set(&in.PostWebhookRetryCount, postRetries)
		set(&in.MediaCompatibilityMessage, compat)
		notify(&in.Notifications)
		return nil
	}, nil
}

// notificationsPatch reads the Notifications.* parameters.
func notificationsPatch(f *rest.Form) (func(*Notifications), error) {
	type field struct {
		prefix string
		get    func(*Notifications) *NotifyEvent
	}
	fields := []field{
		{"Notifications.NewMessage", func(n *Notifications) *NotifyEvent { return &n.NewMessage }},
		{"Notifications.AddedToChannel", func(n *Notifications) *NotifyEvent { return &n.AddedToChannel }},
		{"Notifications.RemovedFromChannel", func(n *Notifications) *NotifyEvent { return &n.RemovedFromChannel }},
		{"Notifications.InvitedToChannel", func(n *Notifications) *NotifyEvent { return &n.InvitedToChannel }},
	}
	var changes []func(*Notifications)
	for _, fd := range fields {
		enabled := f.Bool(fd.prefix + ".Enabled")
		template, err1 := optName(f, fd.prefix+".Template", 256)
		sound, err2 := optName(f, fd.prefix+".Sound", 256)
		badge := f.Bool(fd.prefix + ".BadgeCountEnabled")
		if err := firstErr(err1, err2); err != nil {
			return nil, err
		}
		get := fd.get
		changes = append(changes, func(n *Notifications) {
			e := get(n)
			set(&e.Enabled, enabled)
			set(&e.Template, template)
			set(&e.Sound, sound)
			if badge != nil { // only NewMessage has one in the spec
				e.BadgeCountEnabled = badge
			}
		})
	}
	logEnabled := f.Bool("Notifications.LogEnabled")
	return func(n *Notifications) {
		for _, ch := range changes {
			ch(n)
		}
		set(&n.LogEnabled, logEnabled)
	}, f.Err()
}

func (h *handlers) deleteService(w http.ResponseWriter, r *http.Request) error {
	c, _, sid, err := h.serviceRef(r)
	if err != nil {
		return err
	}
	if err := h.s.deleteInstance(r.Context(), c, sid); err != nil {
		return err
	}
	return rest.NoContent(w)
}
