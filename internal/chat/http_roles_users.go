package chat

import (
	"context"
	"net/http"

	"github.com/parleychat/parley/internal/rest"
)

// --- roles ---

// permissions reads the repeated Permission parameter.
func permissions(f *rest.Form) ([]string, error) {
	perms := f.Strings("Permission")
	if len(perms) == 0 {
		return nil, rest.MissingParam("Permission")
	}
	if len(perms) > 64 {
		return nil, rest.InvalidParam("Permission", "at most 64 permissions")
	}
	for _, p := range perms {
		if err := validIdentity("Permission", p, ""); err != nil {
			return nil, err
		}
	}
	return perms, nil
}

func (h *handlers) createRole(w http.ResponseWriter, r *http.Request) error {
	c, f, is, err := h.request(r, true)
	if err != nil {
		return err
	}
	name := f.Required("FriendlyName")
	typ := f.OneOf("Type", "channel", "deployment")
	if typ == "" && f.Err() == nil {
		return rest.MissingParam("Type")
	}
	perms, permErr := permissions(f)
	if err := firstErr(f.Err(), validName("FriendlyName", name, 64), permErr); err != nil {
		return err
	}
	role, err := h.s.createRole(r.Context(), c, is, Role{FriendlyName: name, Type: typ, Permissions: perms})
	if err != nil {
		return err
	}
	return created(w, h.s.roleJSON(role))
}

func (h *handlers) listRoles(w http.ResponseWriter, r *http.Request) error {
	return listUnderService(h, w, r, "roles", "/Roles", h.s.listRoles, h.s.roleJSON, func(j roleJSON) int64 { return j.seq })
}

// listUnderService answers a list of a resource that sits directly below
// a service (roles, users).
func listUnderService[T, J any](h *handlers, w http.ResponseWriter, r *http.Request, key, sub string,
	list func(context.Context, caller, string, rest.Page) ([]T, error), render func(T) J, seq func(J) int64) error {
	c, f, is, err := h.request(r, true)
	if err != nil {
		return err
	}
	p, err := page(f, MaxPageSize)
	if err != nil {
		return err
	}
	rows, err := list(r.Context(), c, is, p)
	if err != nil {
		return err
	}
	return writeList(w, r, h, key, servicePath(is)+sub, mapRows(rows, render), seq, p)
}

func (h *handlers) roleRef(r *http.Request) (caller, *rest.Form, string, string, error) {
	c, f, is, err := h.request(r, true)
	if err != nil {
		return c, f, is, "", err
	}
	sid, err := rest.PathSID(r, "Sid", "RL")
	return c, f, is, sid, err
}

func (h *handlers) fetchRole(w http.ResponseWriter, r *http.Request) error {
	c, _, is, sid, err := h.roleRef(r)
	if err != nil {
		return err
	}
	role, err := h.s.role(r.Context(), c, is, sid)
	if err != nil {
		return err
	}
	return ok(w, h.s.roleJSON(role))
}

func (h *handlers) updateRole(w http.ResponseWriter, r *http.Request) error {
	c, f, is, sid, err := h.roleRef(r)
	if err != nil {
		return err
	}
	perms, err := permissions(f)
	if err != nil {
		return err
	}
	role, err := h.s.updateRole(r.Context(), c, is, sid, perms)
	if err != nil {
		return err
	}
	return ok(w, h.s.roleJSON(role))
}

func (h *handlers) deleteRole(w http.ResponseWriter, r *http.Request) error {
	c, _, is, sid, err := h.roleRef(r)
	if err != nil {
		return err
	}
	if err := h.s.deleteRole(r.Context(), c, is, sid); err != nil {
		return err
	}
	return rest.NoContent(w)
}

// --- users ---

func (h *handlers) createUser(w http.ResponseWriter, r *http.Request) error {
	c, f, is, err := h.request(r, true)
	if err != nil {
		return err
	}
	identity := f.String("Identity")
	role := f.SID("RoleSid", "RL")
	attrs, attrErr := attributes(f, "Attributes")
	name, nameErr := optName(f, "FriendlyName", 256)
	if err := firstErr(f.Err(), validIdentity("Identity", identity, "US"), attrErr, nameErr); err != nil {
		return err
	}
	u := User{Identity: identity, RoleSID: role, Attributes: "{}"}
	set(&u.Attributes, attrs)
	set(&u.FriendlyName, name)
	u, err = h.s.createUser(r.Context(), c, is, u)
	if err != nil {
		return err
	}
	return created(w, h.s.userJSON(u))
}

func (h *handlers) listUsers(w http.ResponseWriter, r *http.Request) error {
	return listUnderService(h, w, r, "users", "/Users", h.s.listUsers, h.s.userJSON, func(j userJSON) int64 { return j.seq })
}

func (h *handlers) userRef(r *http.Request) (caller, *rest.Form, string, string, error) {
	c, f, is, err := h.request(r, true)
	if err != nil {
		return c, f, is, "", err
	}
	ref, err := pathRef(r, "Sid")
	return c, f, is, ref, err
}

func (h *handlers) fetchUser(w http.ResponseWriter, r *http.Request) error {
	c, _, is, ref, err := h.userRef(r)
	if err != nil {
		return err
	}
	_, u, err := h.s.user(r.Context(), c, is, ref)
	if err != nil {
		return err
	}
	return ok(w, h.s.userJSON(u))
}

func (h *handlers) updateUser(w http.ResponseWriter, r *http.Request) error {
	c, f, is, ref, err := h.userRef(r)
	if err != nil {
		return err
	}
	var p userPatch
	var attrErr, nameErr error
	if role := f.SID("RoleSid", "RL"); role != "" {
		p.RoleSID = &role
	}
	p.Attributes, attrErr = attributes(f, "Attributes")
	p.FriendlyName, nameErr = optName(f, "FriendlyName", 256)
	if err := firstErr(f.Err(), attrErr, nameErr); err != nil {
		return err
	}
	u, err := h.s.updateUser(r.Context(), c, is, ref, p)
	if err != nil {
		return err
	}
	return ok(w, h.s.userJSON(u))
}

func (h *handlers) deleteUser(w http.ResponseWriter, r *http.Request) error {
	c, _, is, ref, err := h.userRef(r)
	if err != nil {
		return err
	}
	if err := h.s.deleteUser(r.Context(), c, is, ref); err != nil {
		return err
	}
	return rest.NoContent(w)
}
