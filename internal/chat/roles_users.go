package chat

import (
	"context"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

// --- roles ---

func (s *Service) createRole(ctx context.Context, c caller, serviceSID string, r Role) (Role, error) {
	if err := c.requireAdmin("create roles"); err != nil {
		return r, err
	}
	if _, err := s.instance(ctx, c, serviceSID); err != nil {
		return r, err
	}
	now := store.Now()
	r.SID, r.AccountSID, r.ServiceSID, r.Created, r.Updated = rest.NewSID("RL"), c.account, serviceSID, now, now
	return r, wrap("create role", insertRole(ctx, s.db, r))
}

func (s *Service) role(ctx context.Context, c caller, serviceSID, sid string) (Role, error) {
	if _, err := s.instance(ctx, c, serviceSID); err != nil {
		return Role{}, err
	}
	r, err := getRole(ctx, s.db, serviceSID, sid)
	return r, wrap("fetch role", notFound(err, "Role", sid))
}

func (s *Service) listRoles(ctx context.Context, c caller, serviceSID string, p rest.Page) ([]Role, error) {
	if _, err := s.instance(ctx, c, serviceSID); err != nil {
		return nil, err
	}
	out, err := listRoles(ctx, s.db, serviceSID, p.After, p.Before, p.Fetch())
	return out, wrap("list roles", err)
}

func (s *Service) updateRole(ctx context.Context, c caller, serviceSID, sid string, perms []string) (Role, error) {
	if err := c.requireAdmin("change roles"); err != nil {
		return Role{}, err
	}
	r, err := s.role(ctx, c, serviceSID, sid)
	if err != nil {
		return r, err
	}
	r.Permissions, r.Updated = perms, store.Now()
	return r, wrap("update role", notFound(updateRole(ctx, s.db, r), "Role", sid))
}

// deleteRole refuses to delete one of the service's default roles, which
// new users and members would otherwise point at.
func (s *Service) deleteRole(ctx context.Context, c caller, serviceSID, sid string) error {
	if err := c.requireAdmin("delete roles"); err != nil {
		return err
	}
	in, err := s.instance(ctx, c, serviceSID)
	if err != nil {
		return err
	}
	if sid == in.DefaultServiceRoleSID || sid == in.DefaultChannelRoleSID || sid == in.DefaultChannelCreatorRoleSID {
		return rest.Conflict(50108, "Role %s is a default role of service %s; choose another default first", sid, serviceSID)
	}
	return wrap("delete role", notFound(deleteRole(ctx, s.db, serviceSID, sid), "Role", sid))
}

// --- users ---

func (s *Service) createUser(ctx context.Context, c caller, serviceSID string, u User) (User, error) {
	if err := c.requireAdmin("create users"); err != nil {
		return u, err
	}
	in, err := s.instance(ctx, c, serviceSID)
	if err != nil {
		return u, err
	}
	if u.RoleSID == "" {
		u.RoleSID = in.DefaultServiceRoleSID
	} else if err := s.checkRole(ctx, serviceSID, "RoleSid", u.RoleSID); err != nil {
		return u, err
	}
	now := store.Now()
	u.SID, u.AccountSID, u.ServiceSID, u.Created, u.Updated = rest.NewSID("US"), c.account, serviceSID, now, now
	if err := insertUser(ctx, s.db, u); err != nil {
		return u, wrap("create user", conflict(err, codeUserExists, "User %q already exists in service %s", u.Identity, serviceSID))
	}
	s.post(c, in, nil, "onUserAdded", userParams(u), nil, nil)
	return u, nil
}

// user loads a user by SID or identity; a token may load only its own.
func (s *Service) user(ctx context.Context, c caller, serviceSID, ref string) (Instance, User, error) {
	in, err := s.instance(ctx, c, serviceSID)
	if err != nil {
		return in, User{}, err
	}
	u, err := getUser(ctx, s.db, serviceSID, ref)
	if err != nil {
		return in, u, notFound(err, "User", ref)
	}
	if !c.admin && u.Identity != c.identity {
		return in, u, rest.Forbidden("An access token may only read and change its own user")
	}
	return in, u, nil
}

func (s *Service) listUsers(ctx context.Context, c caller, serviceSID string, p rest.Page) ([]User, error) {
	if err := c.requireAdmin("list users"); err != nil {
		return nil, err
	}
	if _, err := s.instance(ctx, c, serviceSID); err != nil {
		return nil, err
	}
	out, err := listUsers(ctx, s.db, serviceSID, p.After, p.Before, p.Fetch())
	return out, wrap("list users", err)
}

// userPatch holds the optional fields of a user update.
type userPatch struct {
	FriendlyName, Attributes, RoleSID *string
}

func (s *Service) updateUser(ctx context.Context, c caller, serviceSID, ref string, p userPatch) (User, error) {
	in, u, err := s.user(ctx, c, serviceSID, ref)
	if err != nil {
		return u, err
	}
	if p.RoleSID != nil {
		if err := c.requireAdmin("change a user's role"); err != nil {
			return u, err
		}
		if err := s.checkRole(ctx, serviceSID, "RoleSid", *p.RoleSID); err != nil {
			return u, err
		}
		u.RoleSID = *p.RoleSID
	}
	set(&u.FriendlyName, p.FriendlyName)
	set(&u.Attributes, p.Attributes)
	params := userParams(u)
	if _, err := s.pre(ctx, c, in, "onUserUpdate", params); err != nil {
		return u, err
	}
	u.Updated = store.Now()
	if err := updateUser(ctx, s.db, u); err != nil {
		return u, wrap("update user", notFound(err, "User", ref))
	}
	s.post(c, in, nil, "onUserUpdated", userParams(u), nil, nil)
	return u, nil
}

func (s *Service) deleteUser(ctx context.Context, c caller, serviceSID, ref string) error {
	if err := c.requireAdmin("delete users"); err != nil {
		return err
	}
	_, u, err := s.user(ctx, c, serviceSID, ref)
	if err != nil {
		return err
	}
	return wrap("delete user", notFound(deleteUser(ctx, s.db, serviceSID, u.SID), "User", ref))
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}
