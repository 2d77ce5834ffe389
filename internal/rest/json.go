package rest

import (
	"encoding/json"
	"net/http"
	"time"
)

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// NoContent answers a delete: 204 with an empty body.
func NoContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Time marshals as ISO 8601 UTC with second precision
// ("2016-08-01T22:10:40Z"), the format Flex, Chat, TaskRouter and Studio
// use and that twilio-go parses strictly. The zero Time marshals as null.
type Time time.Time

const isoLayout = "2006-01-02T15:04:05Z"

func (t Time) MarshalJSON() ([]byte, error) {
	if time.Time(t).IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + time.Time(t).UTC().Format(isoLayout) + `"`), nil
}

func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*t = Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339, s)
	*t = Time(v)
	return err
}

// RFC2822 marshals the way the 2010 API writes dates
// ("Mon, 02 Jan 2006 15:04:05 +0000").
type RFC2822 time.Time

func (t RFC2822) MarshalJSON() ([]byte, error) {
	if time.Time(t).IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + time.Time(t).UTC().Format("Mon, 02 Jan 2006 15:04:05 +0000") + `"`), nil
}

// Millis converts a stored unix-milliseconds value to a time.Time.
func Millis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
