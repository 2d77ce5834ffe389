package chat

import (
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/rest"
)

// Limits on what a client may store. Twilio documents some (names of 64 or
// 256 characters); the sizes keep one client from filling the database.
const (
	MaxBodyBytes       = 32 << 10 // message body, bytes of UTF-8
	MaxAttributesBytes = 16 << 10 // any Attributes, bytes of JSON text
	MaxIdentity        = 256      // identities, From, CreatedBy, LastUpdatedBy
	MaxClientMessageID = 128
	MaxURL             = 2048
	MaxTriggers        = 5
	MaxWebhooks        = 5 // channel webhooks per channel
	MaxPageSize        = 100
)

func isSID(prefix, s string) bool { return rest.IsSID(prefix, s) }

// validAttributes checks an Attributes value: at most MaxAttributesBytes of
// valid UTF-8 that parses as JSON.
func validAttributes(param, s string) error {
	switch {
	case len(s) > MaxAttributesBytes:
		return rest.InvalidParam(param, "must be at most %d bytes (it has %d)", MaxAttributesBytes, len(s))
	case !utf8.ValidString(s):
		return rest.InvalidParam(param, "is not valid UTF-8")
	case !json.Valid([]byte(s)):
		return rest.InvalidParam(param, "is not valid JSON")
	}
	return nil
}

// validBody checks a message body: at most MaxBodyBytes of valid UTF-8.
func validBody(s string) error {
	switch {
	case len(s) > MaxBodyBytes:
		return rest.InvalidParam("Body", "must be at most %d bytes (it has %d)", MaxBodyBytes, len(s))
	case !utf8.ValidString(s):
		return rest.InvalidParam("Body", "is not valid UTF-8")
	}
	return nil
}

// validName checks a free-text name: valid UTF-8, at most max characters,
// no control characters (they break logs and user interfaces).
func validName(param, s string, max int) error {
	switch {
	case !utf8.ValidString(s):
		return rest.InvalidParam(param, "is not valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		return rest.InvalidParam(param, "must be at most %d characters", max)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return rest.InvalidParam(param, "must not contain control characters")
	}
	return nil
}

// validIdentity checks an identity: non-empty, bounded, printable, and not
// shaped like the SID it stands beside in paths (sidPrefix), which would
// make a path ambiguous.
func validIdentity(param, s, sidPrefix string) error {
	if s == "" {
		return rest.MissingParam(param)
	}
	if err := validName(param, s, MaxIdentity); err != nil {
		return err
	}
	if sidPrefix != "" && isSID(sidPrefix, s) {
		return rest.InvalidParam(param, "%q looks like a %s SID; choose another", s, sidPrefix)
	}
	return nil
}
