package token

import (
	"context"
	"time"
)

// Advance moves the service's clock forward by d (tests of expiry).
func Advance(s *Service, d time.Duration) { s.skew.Add(int64(d)) }

// GuestKeySecret returns the account's current guest key and its secret,
// so that tests can forge guest tokens with chosen claims.
func GuestKeySecret(t interface{ Fatal(...any) }, s *Service, accountSID string) (sid, secret string) {
	k, err := s.currentGuestKey(context.Background(), accountSID)
	if err != nil {
		t.Fatal(err)
	}
	return k.sid, k.secret
}

// BucketCount is how many per-IP buckets the rate limiter holds.
func BucketCount(s *Service) int { return s.limits.size() }
