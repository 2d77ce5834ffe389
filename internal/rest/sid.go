package rest

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
)

// NewSID returns prefix + 32 lower-case hex digits from crypto/rand.
func NewSID(prefix string) string {
	return prefix + RandomHex(16)
}

// RandomHex returns 2n lower-case hex digits from crypto/rand.
func RandomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("rest: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// IsSID reports whether s is prefix followed by 32 hex digits, the shape
// Twilio's specs give (^XX[0-9a-fA-F]{32}$).
func IsSID(prefix, s string) bool {
	if len(s) != 34 || s[:2] != prefix {
		return false
	}
	for i := 2; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// PathSID reads the path value name and checks it is a SID with prefix. A
// wrong shape is a 404, as Twilio answers, and never reaches the database.
// A trailing ".json" (the 2010 API's style) is accepted and removed.
func PathSID(r *http.Request, name, prefix string) (string, error) {
	s := TrimJSON(r.PathValue(name))
	if !IsSID(prefix, s) {
		return "", NotFound("The requested resource %s was not found", r.URL.Path)
	}
	return s, nil
}

// TrimJSON removes the optional ".json" suffix of 2010-style paths.
func TrimJSON(s string) string {
	if len(s) > 5 && s[len(s)-5:] == ".json" {
		return s[:len(s)-5]
	}
	return s
}
