package chat

import (
	"net/http"
	"time"

	"github.com/parleychat/parley/internal/rest"
)

// Routes mounts Chat v2 under /chat/v2, every path and method the spec
// lists for the resources Parley implements.
func (s *Service) Routes(rt *rest.Router) {
	h := &handlers{s: s, rt: rt}
	const svc = "/chat/v2/Services/{ServiceSid}"
	const ch = svc + "/Channels/{ChannelSid}"

	rt.Handle("POST /chat/v2/Services", h.createService)
	rt.Handle("GET /chat/v2/Services", h.listServices)
	rt.Handle("GET /chat/v2/Services/{Sid}", h.fetchService)
	rt.Handle("POST /chat/v2/Services/{Sid}", h.updateService)
	rt.Handle("DELETE /chat/v2/Services/{Sid}", h.deleteService)

	rt.Handle("POST "+svc+"/Roles", h.createRole)
	rt.Handle("GET "+svc+"/Roles", h.listRoles)
	rt.Handle("GET "+svc+"/Roles/{Sid}", h.fetchRole)
	rt.Handle("POST "+svc+"/Roles/{Sid}", h.updateRole)
	rt.Handle("DELETE "+svc+"/Roles/{Sid}", h.deleteRole)

	rt.Handle("POST "+svc+"/Users", h.createUser)
	rt.Handle("GET "+svc+"/Users", h.listUsers)
	rt.Handle("GET "+svc+"/Users/{Sid}", h.fetchUser)
	rt.Handle("POST "+svc+"/Users/{Sid}", h.updateUser)
	rt.Handle("DELETE "+svc+"/Users/{Sid}", h.deleteUser)
	rt.Handle("GET "+svc+"/Users/{UserSid}/Channels", h.listUserChannels)
	rt.Handle("GET "+svc+"/Users/{UserSid}/Channels/{ChannelSid}", h.fetchUserChannel)

	rt.Handle("POST "+svc+"/Channels", h.createChannel)
	rt.Handle("GET "+svc+"/Channels", h.listChannels)
	rt.Handle("GET "+svc+"/Channels/{Sid}", h.fetchChannel)
	rt.Handle("POST "+svc+"/Channels/{Sid}", h.updateChannel)
	rt.Handle("DELETE "+svc+"/Channels/{Sid}", h.deleteChannel)

	rt.Handle("POST "+ch+"/Members", h.createMember)
	rt.Handle("GET "+ch+"/Members", h.listMembers)
	rt.Handle("GET "+ch+"/Members/{Sid}", h.fetchMember)
	rt.Handle("POST "+ch+"/Members/{Sid}", h.updateMember)
	rt.Handle("DELETE "+ch+"/Members/{Sid}", h.deleteMember)

	rt.Handle("POST "+ch+"/Messages", h.createMessage)
	rt.Handle("GET "+ch+"/Messages", h.listMessages)
	rt.Handle("GET "+ch+"/Messages/{Sid}", h.fetchMessage)
	rt.Handle("POST "+ch+"/Messages/{Sid}", h.updateMessage)
	rt.Handle("DELETE "+ch+"/Messages/{Sid}", h.deleteMessage)

	rt.Handle("POST "+ch+"/Webhooks", h.createWebhook)
	rt.Handle("GET "+ch+"/Webhooks", h.listWebhooks)
	rt.Handle("GET "+ch+"/Webhooks/{Sid}", h.fetchWebhook)
	rt.Handle("POST "+ch+"/Webhooks/{Sid}", h.updateWebhook)
	rt.Handle("DELETE "+ch+"/Webhooks/{Sid}", h.deleteWebhook)
}

type handlers struct {
	s  *Service
	rt *rest.Router
}

// serviceSID reads the path's service SID; a malformed one is a 404.
func serviceSID(r *http.Request) (string, error) { return rest.PathSID(r, "ServiceSid", "IS") }

// pathRef reads a path value that may be a SID or a name (a channel's
// unique name, a member's or user's identity).
func pathRef(r *http.Request, name string) (string, error) {
	v := r.PathValue(name)
	if v == "" || len(v) > 4*MaxIdentity {
		return "", rest.NotFound("The requested resource %s was not found", r.URL.Path)
	}
	return v, nil
}

// request is what every handler starts with: the caller, the form, and
// the path's service SID.
func (h *handlers) request(r *http.Request, withService bool) (caller, *rest.Form, string, error) {
	c := callerFrom(r)
	var is string
	if withService {
		var err error
		if is, err = serviceSID(r); err != nil {
			return c, nil, "", err
		}
	}
	f, err := h.rt.Form(r)
	return c, f, is, err
}

// page reads paging parameters. A PageSize above the resource's maximum is
// clamped, not refused: twilio-go asks for min(Limit, 1000) and Twilio
// answers with its maximum.
func page(f *rest.Form, max int) (rest.Page, error) {
	p, err := rest.ParsePage(f, 1000)
	p.Size = min(p.Size, max)
	return p, err
}

// writeList sends one page in the v2 envelope under the spec's list key.
func writeList[T any](w http.ResponseWriter, r *http.Request, h *handlers, key, path string, rows []T, seq func(T) int64, p rest.Page) error {
	l := rest.List[T]{Key: key, URL: h.rt.URL(path), Rows: rows, Seq: seq, Page: p, Query: r.URL.Query()}
	return l.Write(w)
}

func mapRows[A, B any](in []A, fn func(A) B) []B {
	out := make([]B, len(in))
	for i, v := range in {
		out[i] = fn(v)
	}
	return out
}

// attributes reads an optional Attributes-like parameter.
func attributes(f *rest.Form, name string) (*string, error) {
	v := f.Optional(name)
	if v == nil {
		return nil, nil
	}
	if *v == "" {
		empty := "{}"
		return &empty, nil
	}
	return v, validAttributes(name, *v)
}

// optName reads an optional bounded name.
func optName(f *rest.Form, name string, max int) (*string, error) {
	v := f.Optional(name)
	if v == nil {
		return nil, nil
	}
	return v, validName(name, *v, max)
}

// date reads an optional ISO 8601 date parameter as unix milliseconds.
func date(f *rest.Form, name string) (*int64, error) {
	v := f.Optional(name)
	if v == nil {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, *v)
	if err != nil {
		return nil, rest.InvalidParam(name, "%q is not an ISO 8601 date such as 2016-08-01T22:10:40Z", *v)
	}
	ms := t.UnixMilli()
	if ms <= 0 {
		return nil, rest.InvalidParam(name, "must be after 1970")
	}
	return &ms, nil
}

// firstErr returns the first non-nil error.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func created(w http.ResponseWriter, v any) error { return rest.WriteJSON(w, http.StatusCreated, v) }
func ok(w http.ResponseWriter, v any) error      { return rest.WriteJSON(w, http.StatusOK, v) }
