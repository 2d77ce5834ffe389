package chat

import (
	"context"
	"errors"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
)

func (s *Service) createMember(ctx context.Context, c caller, serviceSID, channelRef string, m Member) (Member, error) {
	if err := c.requireAdmin("add members"); err != nil {
		return m, err
	}
	in, ch, err := s.channel(ctx, c, serviceSID, channelRef)
	if err != nil {
		return m, err
	}
	if m.RoleSID == "" {
		m.RoleSID = in.DefaultChannelRoleSID
	} else if err := s.checkRole(ctx, serviceSID, "RoleSid", m.RoleSID); err != nil {
		return m, err
	}
	m.ChannelSID = ch.SID
	if _, err := s.pre(ctx, c, in, "onMemberAdd", memberParams(m)); err != nil {
		return m, err
	}
	now := store.Now()
	m.SID, m.AccountSID, m.ServiceSID = rest.NewSID("MB"), c.account, serviceSID
	stamp(&m.Created, &m.Updated)
	err = s.db.InTx(ctx, func(q store.Querier) error {
		if err := checkMemberLimits(ctx, q, in, ch.SID, m.Identity); err != nil {
			return err
		}
		u := User{SID: rest.NewSID("US"), AccountSID: c.account, ServiceSID: serviceSID, Identity: m.Identity,
			Attributes: "{}", RoleSID: in.DefaultServiceRoleSID, Created: now, Updated: now}
		if err := ensureUser(ctx, q, u); err != nil {
			return err
		}
		return insertMember(ctx, q, m)
	})
	if err != nil {
		return m, wrap("add member", conflict(err, codeMemberExists, "Member %q already exists in channel %s", m.Identity, ch.SID))
	}
	ch.MembersCount++
	s.publish(ctx, "member.joined", ch, nil, s.memberJSON(m))
	s.post(c, in, s.channelWebhooks(ctx, c, ch), "onMemberAdded", memberParams(m), nil, &ch)
	return m, nil
}

// checkMemberLimits counts the new member and applies the service's
// Limits.ChannelMembers and Limits.UserChannels inside the adding
// transaction. Bumping members_count first locks the channel row, so
// concurrent adds cannot both take the last place.
func checkMemberLimits(ctx context.Context, q store.Querier, in Instance, channelSID, identity string) error {
	var members int
	if err := q.QueryRowContext(ctx, "UPDATE chat_channels SET members_count = members_count + 1 WHERE sid = ? RETURNING members_count",
		channelSID).Scan(&members); err != nil {
		return store.NoRows(err)
	}
	if members > in.LimitChannelMembers {
		return tooMany("Channel %s has %d members, the service's limit (Limits.ChannelMembers)", channelSID, members-1)
	}
	n, err := countUserChannels(ctx, q, in.SID, identity)
	if err != nil {
		return err
	}
	if n >= in.LimitUserChannels {
		return tooMany("Identity %q is a member of %d channels, the service's limit (Limits.UserChannels)", identity, n)
	}
	return nil
}

// member loads a member by SID or identity of a channel the caller sees.
func (s *Service) member(ctx context.Context, c caller, serviceSID, channelRef, ref string) (Instance, Channel, Member, error) {
	in, ch, err := s.channel(ctx, c, serviceSID, channelRef)
	if err != nil {
		return in, ch, Member{}, err
	}
	m, err := getMember(ctx, s.db, ch.SID, ref)
	return in, ch, m, notFound(err, "Member", ref)
}

func (s *Service) listMembers(ctx context.Context, c caller, serviceSID, channelRef string, identities []string, p rest.Page) (string, []Member, error) {
	_, ch, err := s.channel(ctx, c, serviceSID, channelRef)
	if err != nil {
		return "", nil, err
	}
	out, err := listMembers(ctx, s.db, ch.SID, identities, p.After, p.Before, p.Fetch())
	return ch.SID, out, wrap("list members", err)
}

// memberPatch holds the optional fields of a member update.
type memberPatch struct {
	RoleSID, Attributes      *string
	LastConsumedMessageIndex *int64
	LastConsumptionTimestamp *int64
	DateCreated, DateUpdated *int64
}

func (s *Service) updateMember(ctx context.Context, c caller, serviceSID, channelRef, ref string, p memberPatch) (Member, error) {
	in, ch, m, err := s.member(ctx, c, serviceSID, channelRef, ref)
	if err != nil {
		return m, err
	}
	if !c.admin && (m.Identity != c.identity || p.RoleSID != nil || p.DateCreated != nil || p.DateUpdated != nil) {
		return m, rest.Forbidden("An access token may change only its own member's read horizon and attributes")
	}
	if p.RoleSID != nil {
		if err := s.checkRole(ctx, serviceSID, "RoleSid", *p.RoleSID); err != nil {
			return m, err
		}
	}
	set(&m.RoleSID, p.RoleSID)
	set(&m.Attributes, p.Attributes)
	set(&m.Created, p.DateCreated)
	if p.LastConsumedMessageIndex != nil {
		m.LastConsumedMessageIndex = p.LastConsumedMessageIndex
		m.LastConsumptionTimestamp = store.Now()
	}
	set(&m.LastConsumptionTimestamp, p.LastConsumptionTimestamp)
	if _, err := s.pre(ctx, c, in, "onMemberUpdate", memberParams(m)); err != nil {
		return m, err
	}
	m.Updated = store.Now()
	set(&m.Updated, p.DateUpdated)
	if err := updateMember(ctx, s.db, m); err != nil {
		return m, wrap("update member", notFound(err, "Member", ref))
	}
	s.memberUpdated(ctx, c, in, ch, m)
	return m, nil
}

func (s *Service) memberUpdated(ctx context.Context, c caller, in Instance, ch Channel, m Member) {
	s.publish(ctx, "member.updated", ch, nil, s.memberJSON(m))
	s.post(c, in, s.channelWebhooks(ctx, c, ch), "onMemberUpdated", memberParams(m), nil, &ch)
}

func (s *Service) deleteMember(ctx context.Context, c caller, serviceSID, channelRef, ref string) error {
	in, ch, m, err := s.member(ctx, c, serviceSID, channelRef, ref)
	if err != nil {
		return err
	}
	if !c.admin && m.Identity != c.identity {
		return rest.Forbidden("An access token may remove only its own member (leave the channel)")
	}
	if _, err := s.pre(ctx, c, in, "onMemberRemove", memberParams(m)); err != nil {
		return err
	}
	err = s.db.InTx(ctx, func(q store.Querier) error {
		if err := deleteMember(ctx, q, ch.SID, m.SID); err != nil {
			return err
		}
		return addCount(ctx, q, ch.SID, "members_count", -1)
	})
	if err != nil {
		return wrap("remove member", notFound(err, "Member", ref))
	}
	ch.MembersCount--
	s.publish(ctx, "member.left", ch, nil, s.memberJSON(m))
	s.post(c, in, s.channelWebhooks(ctx, c, ch), "onMemberRemoved", memberParams(m), nil, &ch)
	return nil
}

// isMember reports whether identity is a member of the channel.
func isMember(ctx context.Context, q store.Querier, channelSID, identity string) (bool, error) {
	_, err := memberByIdentity(ctx, q, channelSID, identity)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
