package token

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/parleychat/parley/internal/rest"
)

// limiter holds one token bucket per client IP for the anonymous
// endpoints. Memory stays bounded: a bucket that has been idle long
// enough to refill completely is the same as a new one, so sweeps drop
// it; sweeps run at most every sweepEvery, from the request path (no
// goroutine to stop), and at once when the map reaches maxBuckets.
type limiter struct {
	every   rate.Limit
	burst   int
	now     func() time.Time
	refill  time.Duration
	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

const (
	sweepEvery = time.Minute
	maxBuckets = 100_000
)

func newLimiter(perMinute float64, burst int, now func() time.Time) *limiter {
	if perMinute <= 0 {
		return nil
	}
	if burst < 1 {
		burst = 1
	}
	every := rate.Limit(perMinute / 60)
	refill := time.Duration(float64(burst) / float64(every) * float64(time.Second))
	return &limiter{every: every, burst: burst, now: now, refill: refill,
		buckets: make(map[string]*bucket), swept: now()}
}

// allow takes one token from ip's bucket. When the bucket is empty it
// returns a 429 with the whole seconds until a token is back.
func (l *limiter) allow(ip string) error {
	if l == nil {
		return nil
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) >= sweepEvery || len(l.buckets) >= maxBuckets {
		l.sweep(now)
	}
	b := l.buckets[ip]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.every, l.burst)}
		l.buckets[ip] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return rest.TooManyRequests(int(math.Ceil(d.Seconds())))
	}
	return nil
}

// sweep drops buckets idle long enough to be full again. If the map is
// still at its bound (a flood from many addresses), it starts over:
// forgetting buckets only ever lets a client through, never locks one out.
func (l *limiter) sweep(now time.Time) {
	for ip, b := range l.buckets {
		if now.Sub(b.seen) >= l.refill {
			delete(l.buckets, ip)
		}
	}
	if len(l.buckets) >= maxBuckets {
		l.buckets = make(map[string]*bucket)
	}
	l.swept = now
}

func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// netPrefix is one trusted proxy network.
type netPrefix = netip.Prefix

func parsePrefixes(list []string) ([]netPrefix, error) {
	var out []netPrefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, rest.InvalidParam("TrustedProxies", "%q is not an IP address or CIDR", s)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, rest.InvalidParam("TrustedProxies", "%q is not an IP address or CIDR", s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// ClientIP is the address the rate limits count against: the peer's
// address, or, when the peer is a trusted proxy, the right-most address
// in X-Forwarded-For that is not a trusted proxy itself (the left-most
// entries are whatever the client chose to send).
func (s *Service) ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !s.trusted(peer) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !s.trusted(a) {
			return a.Unmap().String()
		}
	}
	return host
}

func (s *Service) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
