package chat

import "context"

// In-process entry points for the agent desktop (through internal/app),
// run as the system caller of the account like the Flex ones: webhooks
// fire and members see the events.

// AddChannelMemberWithAttributes adds identity to the channel with the
// member attributes (a JSON object text; "" is "{}"), creating its user.
// The web chat widget shows a member's attributes.friendly_name as the
// sender's name.
func (s *Service) AddChannelMemberWithAttributes(ctx context.Context, accountSID, serviceSID, channelSID, identity, attributes string) error {
	if attributes == "" {
		attributes = "{}"
	}
	if err := validAttributes("Attributes", attributes); err != nil {
		return err
	}
	_, err := s.createMember(ctx, system(accountSID), serviceSID, channelSID, Member{Identity: identity, Attributes: attributes})
	return err
}

// SetMemberAttributes replaces an existing member's attributes; members
// see member.updated.
func (s *Service) SetMemberAttributes(ctx context.Context, accountSID, serviceSID, channelSID, identity, attributes string) error {
	if err := validAttributes("Attributes", attributes); err != nil {
		return err
	}
	_, err := s.updateMember(ctx, system(accountSID), serviceSID, channelSID, identity, memberPatch{Attributes: &attributes})
	return err
}

// MemberAttributes returns a member's attributes (JSON text).
func (s *Service) MemberAttributes(ctx context.Context, accountSID, serviceSID, channelSID, identity string) (string, error) {
	_, _, m, err := s.member(ctx, system(accountSID), serviceSID, channelSID, identity)
	return m.Attributes, err
}

// RemoveChannelMember removes identity from the channel (members see
// member.left, and the identity's sockets stop following the channel); a
// member that is not there is fine.
func (s *Service) RemoveChannelMember(ctx context.Context, accountSID, serviceSID, channelSID, identity string) error {
	return ignoreNotFound(s.deleteMember(ctx, system(accountSID), serviceSID, channelSID, identity))
}
