package agent

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/parleychat/parley/internal/rest"
)

// argon2id parameters (RFC 9106's second recommended option, with less
// memory: 64 MiB, 3 passes), stored in the PHC string so they can change.
const (
	argonTime    = 3
	argonMemory  = 64 * 1024
	argonThreads = 2
	argonKeyLen  = 32
)

var b64 = base64.RawStdEncoding

func hashPassword(pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("agent: salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// verifyPassword checks pw against a PHC argon2id string in constant time.
func verifyPassword(phc, pw string) bool {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m > 1<<20 || t > 16 || p == 0 {
		return false
	}
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is verified against when the email is unknown, so that the
// answer takes as long as for a known email. It is made on first use: an
// argon2id hash costs 64 MiB and a fifth of a second, which every process
// (the CLI, each test binary) paid at start when it was a package variable.
var dummyHash = sync.OnceValue(func() string {
	h, _ := hashPassword("parley-dummy-password")
	return h
})

// throttle counts failed sign-ins per email and per client address.
type throttle struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu    sync.Mutex
	fails map[string][]time.Time
}

func newThrottle(max int, window time.Duration, now func() time.Time) *throttle {
	return &throttle{max: max, window: window, now: now, fails: map[string][]time.Time{}}
}

func throttleKeys(email, ip string) []string { return []string{"e:" + email, "ip:" + ip} }

// blocked returns how long until one more attempt is allowed (0: now).
func (t *throttle) blocked(email, ip string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var wait time.Duration
	for _, k := range throttleKeys(email, ip) {
		recent := t.recent(k, now)
		if len(recent) >= t.max {
			wait = max(wait, recent[0].Add(t.window).Sub(now))
		}
	}
	return wait
}

// recent drops failures older than the window; t.mu is held.
func (t *throttle) recent(k string, now time.Time) []time.Time {
	list := t.fails[k]
	for len(list) > 0 && now.Sub(list[0]) >= t.window {
		list = list[1:]
	}
	if len(list) == 0 {
		delete(t.fails, k)
		return nil
	}
	t.fails[k] = list
	return list
}

func (t *throttle) fail(email, ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for _, k := range throttleKeys(email, ip) {
		t.fails[k] = append(t.recent(k, now), now)
	}
	if len(t.fails) > 100000 { // bound memory under a spray of addresses
		t.fails = map[string][]time.Time{}
	}
}

// clear forgets the email's failures after a good sign-in (the address
// keeps its count: one good account must not unlock guessing others).
func (t *throttle) clear(email, _ string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.fails, "e:"+email)
}

// workerAttributes builds the worker's attributes: the admin's object,
// plus contact_uri, full_name, email, routing.skills and the role.
func workerAttributes(n NewAgent) (string, error) {
	attrs := map[string]any{}
	if strings.TrimSpace(n.Attributes) != "" {
		if err := json.Unmarshal([]byte(n.Attributes), &attrs); err != nil || attrs == nil {
			return "", rest.InvalidParam("Attributes", "must be a JSON object")
		}
	}
	attrs["contact_uri"] = "client:" + n.Email
	attrs["full_name"] = n.FriendlyName
	attrs["email"] = n.Email
	attrs["roles"] = []string{n.Role}
	if len(n.Skills) > 0 {
		routing, _ := attrs["routing"].(map[string]any)
		if routing == nil {
			routing = map[string]any{}
		}
		routing["skills"] = n.Skills
		attrs["routing"] = routing
	}
	b, err := json.Marshal(attrs)
	return string(b), err
}
