package rest

import (
	"net/http/httptest"
	"testing"
)

func TestIsSID(t *testing.T) {
	good := NewSID("AC")
	for _, tc := range []struct {
		prefix, s string
		want      bool
	}{
		{"AC", good, true},
		{"AC", "AC" + "0123456789abcdefABCDEF0123456789", true},
		{"SK", good, false},
		{"AC", good[:33], false},
		{"AC", good + "0", false},
		{"AC", "AC" + "0123456789abcdef0123456789abcdeg", false},
		{"AC", "ac0123456789abcdef0123456789abcdef", false},
		{"AC", "", false},
		{"AC", "AC", false},
		{"AC", "AC../../../../../../etc/passwd....", false},
	} {
		if got := IsSID(tc.prefix, tc.s); got != tc.want {
			t.Errorf("IsSID(%q, %q) = %v, want %v", tc.prefix, tc.s, got, tc.want)
		}
	}
}

func TestNewSIDShape(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		s := NewSID("WT")
		if !IsSID("WT", s) || s != s[:2]+lower(s[2:]) {
			t.Fatalf("NewSID gave %q", s)
		}
		if seen[s] {
			t.Fatalf("NewSID repeated %q", s)
		}
		seen[s] = true
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func TestPathSID(t *testing.T) {
	sid := NewSID("SK")
	for _, tc := range []struct {
		value string
		ok    bool
	}{
		{sid, true}, {sid + ".json", true}, {"SKnope", false}, {NewSID("AC"), false},
	} {
		r := httptest.NewRequest("GET", "/x", nil)
		r.SetPathValue("Sid", tc.value)
		got, err := PathSID(r, "Sid", "SK")
		if tc.ok && (err != nil || got != sid) {
			t.Errorf("PathSID(%q) = %q, %v", tc.value, got, err)
		}
		if !tc.ok {
			e, isRest := AsError(err)
			if !isRest || e.Status != 404 || e.Code != CodeNotFound {
				t.Errorf("PathSID(%q) error = %v, want 404/20404", tc.value, err)
			}
		}
	}
}

// FuzzIsSID checks the SID parser never panics and agrees with its
// definition: two-letter prefix plus 32 hex digits.
func FuzzIsSID(f *testing.F) {
	for _, s := range []string{NewSID("AC"), "AC", "", "ACzz", NewSID("SK") + ".json", "AC\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := IsSID("AC", s)
		want := len(s) == 34 && s[:2] == "AC"
		if want {
			for _, c := range []byte(s[2:]) {
				if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
					want = false
				}
			}
		}
		if got != want {
			t.Fatalf("IsSID(%q) = %v, want %v", s, got, want)
		}
	})
}
