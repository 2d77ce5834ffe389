package token

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/storetest"
)

// fakeKeys is a KeyLookup over a map; entered/release let a test hold a
// lookup in the middle.
type fakeKeys struct {
	mu      sync.Mutex
	keys    map[string][2]string // sid -> account, secret
	entered chan struct{}
	release chan struct{}
}

func newFakeKeys() *fakeKeys { return &fakeKeys{keys: map[string][2]string{}} }

func (f *fakeKeys) add(acct string) (sid, secret string) {
	sid, secret = rest.NewSID("SK"), rest.RandomHex(16)
	f.mu.Lock()
	f.keys[sid] = [2]string{acct, secret}
	f.mu.Unlock()
	return sid, secret
}

func (f *fakeKeys) remove(sid string) {
	f.mu.Lock()
	delete(f.keys, sid)
	f.mu.Unlock()
}

func (f *fakeKeys) LookupKeySecret(ctx context.Context, sid string) (string, string, error) {
	f.mu.Lock()
	k, ok := f.keys[sid]
	entered, release := f.entered, f.release
	f.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
		<-release
	}
	if !ok {
		return "", "", fmt.Errorf("%w: %s", ErrKeyNotFound, sid)
	}
	return k[0], k[1], nil
}

func (f *fakeKeys) AccountExists(ctx context.Context, sid string) (bool, error) { return true, nil }

func newTestService(t testing.TB, db *store.DB, keys KeyLookup) *Service {
	t.Helper()
	s, err := New(db, nil, keys, Options{KeyRecheck: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var testAccount = "AC" + strings.Repeat("a", 32)

func mustMint(t testing.TB, s *Service, keySID string) string {
	t.Helper()
	raw, _, err := s.Mint(context.Background(), Grant{AccountSID: testAccount, KeySID: keySID, Identity: "alice",
		ChatServiceSID: "IS" + strings.Repeat("b", 32), WorkspaceSID: "WS" + strings.Repeat("c", 32), WorkerSID: "WK" + strings.Repeat("d", 32)})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func code(err error) int {
	if e, ok := rest.AsError(err); ok {
		return e.Code
	}
	return 0
}

// A lost keys.deleted message only delays the cut-off until the re-check.
func TestLostDeletionCutsOffAtRecheck(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		keys := newFakeKeys()
		s := newTestService(t, db, keys)
		sid, _ := keys.add(testAccount)
		raw := mustMint(t, s, sid)
		if _, err := s.Verify(t.Context(), raw); err != nil {
			t.Fatal(err)
		}
		keys.remove(sid) // deleted, and the bus message is lost
		if _, err := s.Verify(t.Context(), raw); err != nil {
			t.Fatalf("within the re-check interval the cached key still verifies; got %v", err)
		}
		Advance(s, 31*time.Second)
		if _, err := s.Verify(t.Context(), raw); code(err) != CodeIssuerSubject {
			t.Fatalf("after the re-check: %v, want code %d", err, CodeIssuerSubject)
		}
	})
}

// An eviction is never undone by a lookup that read the store before it.
func TestEvictionWinsOverConcurrentFill(t *testing.T) {
	keys := newFakeKeys()
	s := newTestService(t, storetest.OpenSQLite(t), keys)
	sid, _ := keys.add(testAccount)
	raw := mustMint(t, s, sid) // reads the key with no hold
	s.cache.evict(sid)

	keys.mu.Lock()
	keys.entered, keys.release = make(chan struct{}), make(chan struct{})
	keys.mu.Unlock()
	done := make(chan error)
	go func() { _, err := s.Verify(context.Background(), raw); done <- err }()
	<-keys.entered // the verify has begun its read of the (still live) key
	keys.mu.Lock()
	keys.entered = nil
	keys.mu.Unlock()
	keys.remove(sid)
	s.cache.evict(sid) // the keys.deleted message arrives mid-read
	close(keys.release)
	<-done // began before the delete: may pass either way
	if _, err := s.Verify(t.Context(), raw); code(err) != CodeIssuerSubject {
		t.Fatalf("after the eviction the stale read was cached: %v", err)
	}
}

func TestMintRefusesBadGrants(t *testing.T) {
	keys := newFakeKeys()
	s := newTestService(t, storetest.OpenSQLite(t), keys)
	sid, _ := keys.add(testAccount)
	otherSID, _ := keys.add("AC" + strings.Repeat("9", 32))
	cases := map[string]Grant{
		"no account":          {KeySID: sid, Identity: "a"},
		"no identity":         {AccountSID: testAccount, KeySID: sid},
		"ttl over 24h":        {AccountSID: testAccount, KeySID: sid, Identity: "a", TTL: 25 * time.Hour},
		"guest with a key":    {AccountSID: testAccount, KeySID: sid, Identity: "a", Guest: true},
		"bad chat service":    {AccountSID: testAccount, KeySID: sid, Identity: "a", ChatServiceSID: "CH" + strings.Repeat("0", 32)},
		"bad worker":          {AccountSID: testAccount, KeySID: sid, Identity: "a", WorkerSID: "WS" + strings.Repeat("0", 32)},
		"unknown key":         {AccountSID: testAccount, KeySID: rest.NewSID("SK"), Identity: "a"},
		"another account key": {AccountSID: testAccount, KeySID: otherSID, Identity: "a"},
	}
	for name, g := range cases {
		if _, _, err := s.Mint(t.Context(), g); err == nil {
			t.Errorf("%s: minted", name)
		} else if e, ok := rest.AsError(err); !ok || e.Status >= 500 {
			t.Errorf("%s: %v is not a 4xx", name, err)
		}
	}
}

func TestLimiterBoundsAndRefills(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newLimiter(60, 5, func() time.Time { return now })
	for i := 0; i < 5; i++ {
		if err := l.allow("192.0.2.1"); err != nil {
			t.Fatalf("request %d within the burst: %v", i, err)
		}
	}
	err := l.allow("192.0.2.1")
	if e, ok := rest.AsError(err); !ok || e.Status != 429 || e.Code != 20429 || e.RetryAfter != 1 {
		t.Fatalf("over the burst: %v", err)
	}
	for i := 0; i < 1000; i++ {
		_ = l.allow(fmt.Sprintf("10.0.%d.%d", i/256, i%256))
	}
	if l.size() != 1001 {
		t.Fatalf("%d buckets, want 1001", l.size())
	}
	now = now.Add(2 * time.Minute) // every bucket is full again: forgettable
	if err := l.allow("192.0.2.1"); err != nil {
		t.Fatalf("after refilling: %v", err)
	}
	if l.size() != 1 {
		t.Fatalf("%d buckets after a sweep, want 1", l.size())
	}
}

func TestClientIP(t *testing.T) {
	s, err := New(nil, nil, newFakeKeys(), Options{TrustedProxies: []string{"10.0.0.0/8", "::1"}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ remote, xff, want string }{
		{"192.0.2.1:5000", "203.0.113.9", "192.0.2.1"},                     // untrusted peer: header ignored
		{"10.1.2.3:5000", "203.0.113.9", "203.0.113.9"},                    // trusted proxy
		{"10.1.2.3:5000", "6.6.6.6, 203.0.113.9, 10.9.9.9", "203.0.113.9"}, // right-most untrusted hop
		{"10.1.2.3:5000", "", "10.1.2.3"},                                  // proxy without header
		{"10.1.2.3:5000", "garbage", "10.1.2.3"},                           // unparsable hop
		{"[::1]:5000", "2001:db8::1", "2001:db8::1"},
	}
	for _, c := range cases {
		r := newRequest(c.remote, c.xff)
		if got := s.ClientIP(r); got != c.want {
			t.Errorf("remote %s xff %q: %s, want %s", c.remote, c.xff, got, c.want)
		}
	}
	if _, err := New(nil, nil, newFakeKeys(), Options{TrustedProxies: []string{"not-a-net"}}); err == nil {
		t.Error("a bad trusted proxy was accepted")
	}
}

func TestNormalizeOrigin(t *testing.T) {
	cases := map[string]string{
		"https://Shop.Example.com":      "https://shop.example.com",
		"https://shop.example.com:443":  "https://shop.example.com",
		"http://shop.example.com:80/":   "http://shop.example.com",
		"http://localhost:8080":         "http://localhost:8080",
		"https://shop.example.com/path": "",
		"shop.example.com":              "",
		"null":                          "",
		"ftp://shop.example.com":        "",
		"https://user@shop.example.com": "",
		"":                              "",
	}
	for in, want := range cases {
		got, ok := NormalizeOrigin(in)
		if got != want || ok != (want != "") {
			t.Errorf("NormalizeOrigin(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

// BenchmarkVerify measures verifying the token a client sends on every
// request (the verified-token cache answers after the first time);
// BenchmarkVerifyCold measures a full verify (parse, HMAC, claims) of a
// token never seen before. Both use the cached key secret.
func BenchmarkVerify(b *testing.B) { benchmarkVerify(b, true) }

func BenchmarkVerifyCold(b *testing.B) { benchmarkVerify(b, false) }

func benchmarkVerify(b *testing.B, cached bool) {
	keys := newFakeKeys()
	s := newTestService(b, storetest.OpenSQLite(b), keys)
	if !cached {
		s.verified = nil
	}
	sid, _ := keys.add(testAccount)
	raw := mustMint(b, s, sid)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Verify(ctx, raw); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
}

func newRequest(remote, xff string) *http.Request {
	r := httptest.NewRequest("POST", "/", nil)
	r.RemoteAddr = remote
	if xff != "" {
		r.Header.Set("X-Forwarded-For", xff)
	}
	return r
}
