package realtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/parleychat/parley/internal/rest"
)

// Version is the protocol version every frame carries as "v".
const Version = 1

// Subprotocol is the WebSocket subprotocol a client may ask for.
const Subprotocol = "parley.v1"

// Client frame types.
const (
	TypeAuth        = "auth"
	TypeUpdateToken = "updateToken"
	TypeChannels    = "channels"
	TypeSubscribe   = "subscribe"
	TypeUnsubscribe = "unsubscribe"
	TypeSend        = "send"
	TypeRead        = "read"
	TypeTyping      = "typing"
	TypeHistory     = "history"
	TypePing        = "ping"
	TypePong        = "pong"
)

// Server frame types (chat and worker events keep the bus event's type).
const (
	TypeReply              = "reply"
	TypeError              = "error"
	TypeTokenAboutToExpire = "tokenAboutToExpire"
	TypeUnsubscribed       = "unsubscribed"

	TypeMessageAdded   = "message.added"
	TypeMessageUpdated = "message.updated"
	TypeMessageRemoved = "message.removed"
	TypeMemberJoined   = "member.joined"
	TypeMemberLeft     = "member.left"
	TypeMemberUpdated  = "member.updated"
	TypeChannelUpdated = "channel.updated"
	TypeChannelRemoved = "channel.removed"
	TypeTypingStarted  = "typing.started"
	TypeTypingEnded    = "typing.ended"
)

// Close codes (4000-4999 are the application's range in RFC 6455).
const (
	CloseBadFrame       = 4000 // a frame that is not valid protocol
	CloseAuthFailed     = 4001 // the auth frame's token was refused
	CloseTokenExpired   = 4002 // the token expired without updateToken
	CloseKeyDeleted     = 4003 // the token's signing key was deleted
	CloseOriginRefused  = 4004 // the page's origin is not allowed for the account
	CloseSlowConsumer   = 4008 // the outbound queue overflowed
	CloseHeartbeat      = 4009 // nothing received within the heartbeat timeout
	CloseAuthTimeout    = 4010 // no auth frame in time
	CloseServerShutdown = 1001 // going away
	CloseInternal       = 1011
)

// Limits of the frame codec.
const (
	maxIDLen       = 64
	maxTokenLen    = 8 << 10
	maxHistory     = 100
	defaultHistory = 30
)

// ClientFrame is every field any client frame may carry; Type says which
// apply. Unknown fields are ignored so that older servers accept newer
// clients' frames.
type ClientFrame struct {
	V               int    `json:"v"`
	Type            string `json:"type"`
	ID              string `json:"id,omitempty"`
	Token           string `json:"token,omitempty"`
	ChannelSID      string `json:"channel_sid,omitempty"`
	LastIndex       *int64 `json:"last_index,omitempty"`
	Index           *int64 `json:"index,omitempty"`
	Before          *int64 `json:"before,omitempty"`
	After           *int64 `json:"after,omitempty"`
	Limit           int    `json:"limit,omitempty"`
	Body            string `json:"body,omitempty"`
	Attributes      string `json:"attributes,omitempty"`
	ClientMessageID string `json:"client_message_id,omitempty"`
	State           string `json:"state,omitempty"`

	// Scope fields: a client never needs them (the token decides), but if
	// it sends them they must agree with the token, or the frame is refused.
	AccountSID string `json:"account_sid,omitempty"`
	ServiceSID string `json:"service_sid,omitempty"`
	Identity   string `json:"identity,omitempty"`
	From       string `json:"from,omitempty"`
}

// FrameError is a frame the codec refused: the error frame (or close
// reason) tells the client which field is wrong.
type FrameError struct {
	ID  string // the frame's id when it could be read
	Err *rest.Error
}

func (e *FrameError) Error() string { return e.Err.Message }

func badFrame(id, format string, args ...any) *FrameError {
	return &FrameError{ID: id, Err: rest.BadRequest(format, args...)}
}

// DecodeClientFrame parses and validates one client frame.
func DecodeClientFrame(data []byte) (ClientFrame, error) {
	var f ClientFrame
	if err := json.Unmarshal(data, &f); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field != "" {
			return f, badFrame(f.ID, "Invalid frame: field %s must be a %s", ute.Field, ute.Type.Kind())
		}
		return f, badFrame("", "Invalid frame: not a JSON object")
	}
	if len(f.ID) > maxIDLen {
		return f, badFrame("", "Invalid frame: id is longer than %d characters", maxIDLen)
	}
	if f.V != Version {
		return f, badFrame(f.ID, "Invalid frame: v must be %d, got %d", Version, f.V)
	}
	return f, f.validate()
}

func (f *ClientFrame) validate() error {
	needChannel := func() error {
		if !rest.IsSID("CH", f.ChannelSID) {
			return badFrame(f.ID, "Invalid frame: channel_sid must be a channel SID (CH followed by 32 hex digits)")
		}
		return nil
	}
	switch f.Type {
	case TypeAuth, TypeUpdateToken:
		if f.Token == "" || len(f.Token) > maxTokenLen {
			return badFrame(f.ID, "Invalid frame: token is required (an access token of at most %d bytes)", maxTokenLen)
		}
	case TypeChannels, TypePing, TypePong:
	case TypeSubscribe:
		if f.LastIndex != nil && *f.LastIndex < -1 {
			return badFrame(f.ID, "Invalid frame: last_index must be -1 or more")
		}
		return needChannel()
	case TypeUnsubscribe:
		return needChannel()
	case TypeSend:
		if f.ClientMessageID == "" || len(f.ClientMessageID) > maxIDLen {
			return badFrame(f.ID, "Invalid frame: client_message_id is required (at most %d characters)", maxIDLen)
		}
		return needChannel()
	case TypeRead:
		if f.Index == nil || *f.Index < 0 {
			return badFrame(f.ID, "Invalid frame: index is required and must be 0 or more")
		}
		return needChannel()
	case TypeTyping:
		if f.State == "" {
			f.State = "started"
		}
		if f.State != "started" && f.State != "ended" {
			return badFrame(f.ID, "Invalid frame: state must be started or ended")
		}
		return needChannel()
	case TypeHistory:
		if f.Before != nil && f.After != nil {
			return badFrame(f.ID, "Invalid frame: give before or after, not both")
		}
		if f.Limit < 0 || f.Limit > maxHistory {
			return badFrame(f.ID, "Invalid frame: limit must be between 1 and %d", maxHistory)
		}
		if f.Limit == 0 {
			f.Limit = defaultHistory
		}
		return needChannel()
	case "":
		return badFrame(f.ID, "Invalid frame: type is required")
	default:
		return badFrame(f.ID, "Invalid frame: unknown type %q", f.Type)
	}
	return nil
}

// Event is the part of a bus event (chat.<ChannelSid> or
// worker.<WorkerSid>) the hub routes on. Raw is the whole event, which is
// forwarded to clients as it is.
type Event struct {
	V            int             `json:"v"`
	Type         string          `json:"type"`
	AccountSID   string          `json:"account_sid"`
	ServiceSID   string          `json:"service_sid,omitempty"`
	ChannelSID   string          `json:"channel_sid,omitempty"`
	WorkspaceSID string          `json:"workspace_sid,omitempty"`
	WorkerSID    string          `json:"worker_sid,omitempty"`
	Index        *int64          `json:"index,omitempty"`
	Data         json.RawMessage `json:"data,omitempty"`

	Identity string `json:"-"` // data.identity of member and typing events
	Raw      []byte `json:"-"`
}

// DecodeEvent parses a bus event. Events of another version are refused
// rather than half-understood.
func DecodeEvent(data []byte) (Event, error) {
	var ev Event
	if err := json.Unmarshal(data, &ev); err != nil {
		return ev, fmt.Errorf("realtime: event: %w", err)
	}
	if ev.V != Version || ev.Type == "" || ev.AccountSID == "" {
		return ev, fmt.Errorf("realtime: event: version %d, type %q, account %q not understood", ev.V, ev.Type, ev.AccountSID)
	}
	if isMessageEvent(ev.Type) && ev.Index == nil {
		return ev, fmt.Errorf("realtime: event: %s without an index", ev.Type)
	}
	if hasIdentity(ev.Type) {
		var d struct {
			Identity string `json:"identity"`
		}
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			return ev, fmt.Errorf("realtime: event: %s data: %w", ev.Type, err)
		}
		ev.Identity = d.Identity
	}
	ev.Raw = data
	return ev, nil
}

func isMessageEvent(t string) bool {
	return t == TypeMessageAdded || t == TypeMessageUpdated || t == TypeMessageRemoved
}

func hasIdentity(t string) bool {
	switch t {
	case TypeMemberJoined, TypeMemberLeft, TypeMemberUpdated, TypeTypingStarted, TypeTypingEnded:
		return true
	}
	return false
}

// encodeEvent builds an event frame, for messages read from the store and
// for typing events this node publishes.
func encodeEvent(ev Event) []byte {
	ev.V = Version
	b, err := json.Marshal(ev)
	if err != nil {
		panic(err) // only strings, numbers and valid raw JSON go in
	}
	return b
}

// reply is the answer to a client frame that carried an id.
type reply struct {
	V    int    `json:"v"`
	Type string `json:"type"`
	Re   string `json:"re,omitempty"`
	Data any    `json:"data,omitempty"`
}

type errorFrame struct {
	V     int       `json:"v"`
	Type  string    `json:"type"`
	Re    string    `json:"re,omitempty"`
	Error errorBody `json:"error"`
}

// errorBody is Twilio's error body, plus when to retry a rate-limited frame.
type errorBody struct {
	*rest.Error
	RetryAfterMS int `json:"retry_after_ms,omitempty"`
}

func encodeReply(re string, data any) []byte {
	b, err := json.Marshal(reply{V: Version, Type: TypeReply, Re: re, Data: data})
	if err != nil {
		panic(err)
	}
	return b
}

func encodeError(re string, e *rest.Error) []byte { return encodeErrorRetry(re, e, 0) }

func encodeErrorRetry(re string, e *rest.Error, retryAfterMS int) []byte {
	b, _ := json.Marshal(errorFrame{V: Version, Type: TypeError, Re: re, Error: errorBody{Error: e, RetryAfterMS: retryAfterMS}})
	return b
}

func encodeSimple(typ string, fields map[string]any) []byte {
	m := map[string]any{"v": Version, "type": typ}
	for k, v := range fields {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return b
}

// messageIndex reads "index" from a message's REST JSON.
func messageIndex(msg json.RawMessage) (int64, error) {
	var m struct {
		Index json.Number `json:"index"`
	}
	if err := json.Unmarshal(msg, &m); err != nil {
		return 0, fmt.Errorf("realtime: message: %w", err)
	}
	n, err := strconv.ParseInt(m.Index.String(), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("realtime: message without an index")
	}
	return n, nil
}
