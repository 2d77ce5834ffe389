// Package config holds Parley's configuration: one struct with defaults,
// environment and flag parsing, validation, and a doc line per field from
// which the README's configuration table is rendered.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Config is every knob Parley has. Each field carries the environment
// variable that sets it (env), the flag (flag, the env name without the
// PARLEY_ prefix, lower-case with dashes) and a one-line doc.
type Config struct {
	Addr          string        `env:"PARLEY_ADDR" doc:"Address the HTTP server listens on."`
	PublicURL     string        `env:"PARLEY_PUBLIC_URL" doc:"Base URL that every returned url, links and paging URL is built on. Default: http://<addr>."`
	DataDir       string        `env:"PARLEY_DATA_DIR" doc:"Directory for the SQLite database and the credentials file."`
	DatabaseURL   string        `env:"PARLEY_DATABASE_URL" doc:"Empty: SQLite file in the data dir. postgres://... : PostgreSQL."`
	NATSURL       string        `env:"PARLEY_NATS_URL" doc:"Empty: the in-process bus (one node). nats://host:4222 (comma-separated for a cluster): NATS carries events between the nodes of a deployment, which then share PostgreSQL."`
	NATSPrefix    string        `env:"PARLEY_NATS_PREFIX" doc:"The deployment's name, which starts every NATS subject, so that deployments sharing a NATS server stay apart. Every node of a deployment sets the same."`
	AccountSID    string        `env:"PARLEY_ACCOUNT_SID" doc:"Pin the main account's SID (AC + 32 hex), for scripts and tests. Empty: random on first start."`
	AuthToken     string        `env:"PARLEY_AUTH_TOKEN" secret:"true" doc:"Pin the main account's auth token (32 hex). Empty: random on first start."`
	LogLevel      string        `env:"PARLEY_LOG_LEVEL" doc:"debug, info, warn or error."`
	LogFormat     string        `env:"PARLEY_LOG_FORMAT" doc:"text or json."`
	MaxBodyBytes  int64         `env:"PARLEY_MAX_BODY_BYTES" doc:"Largest request body accepted; larger ones get 413."`
	ShutdownGrace time.Duration `env:"PARLEY_SHUTDOWN_GRACE" doc:"How long a shutdown waits for in-flight requests."`

	GuestTokenTTL   time.Duration `env:"PARLEY_GUEST_TOKEN_TTL" doc:"Lifetime of the anonymous guest tokens the web chat widget gets from /iam (at most 24h); the widget renews them before they expire."`
	GuestTokenRate  int64         `env:"PARLEY_GUEST_TOKEN_RATE" doc:"Guest tokens (new or refreshed) one client IP may get per minute, on average; 0: no limit. Over it: 429 with Retry-After."`
	GuestTokenBurst int64         `env:"PARLEY_GUEST_TOKEN_BURST" doc:"Guest tokens one client IP may get in a burst, before PARLEY_GUEST_TOKEN_RATE applies."`
	AllowedOrigins  string        `env:"PARLEY_ALLOWED_ORIGINS" doc:"Comma-separated website origins (https://www.example.com) allowed to use the main account's guest tokens, web chat and realtime socket, added to those set through the API. Empty everywhere: any origin."`
	TrustedProxies  string        `env:"PARLEY_TRUSTED_PROXIES" doc:"Comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For gives the client IP for rate limits. Empty: the peer address is the client IP."`
	TokenKeyRecheck time.Duration `env:"PARLEY_TOKEN_KEY_RECHECK" doc:"How long a token verifier trusts a cached signing key before reading it again; bounds how late a node that missed a key deletion cuts its tokens off."`

	RealtimeHeartbeat     time.Duration `env:"PARLEY_REALTIME_HEARTBEAT" doc:"How often the realtime socket pings; a client silent for two heartbeats is closed as dead."`
	RealtimeTokenWarning  time.Duration `env:"PARLEY_REALTIME_TOKEN_WARNING" doc:"How long before a socket's token expires the server sends tokenAboutToExpire."`
	RealtimeOutbox        int64         `env:"PARLEY_REALTIME_OUTBOX" doc:"Frames one socket may have queued for sending; a client reading slower is disconnected as a slow consumer."`
	RealtimeIdentityRate  int64         `env:"PARLEY_REALTIME_IDENTITY_RATE" doc:"Messages per second one identity may send over realtime sockets on a node, on average; 0: no limit. Over it: an error frame with code 20429."`
	RealtimeIdentityBurst int64         `env:"PARLEY_REALTIME_IDENTITY_BURST" doc:"Messages one identity may send in a burst before PARLEY_REALTIME_IDENTITY_RATE applies."`
	RealtimeChannelRate   int64         `env:"PARLEY_REALTIME_CHANNEL_RATE" doc:"Messages per second one channel may receive over realtime sockets on a node, on average; 0: no limit."`
	RealtimeChannelBurst  int64         `env:"PARLEY_REALTIME_CHANNEL_BURST" doc:"Messages one channel may receive in a burst before PARLEY_REALTIME_CHANNEL_RATE applies."`
	FlexIdleTimeout       time.Duration `env:"PARLEY_FLEX_IDLE_TIMEOUT" doc:"The janitor closes a web chat with no task and no message for this long (channel status INACTIVE, integration detached). 0: never."`
	AgentTokenURL         string        `env:"PARLEY_AGENT_TOKEN_URL" doc:"Empty: agents sign in to the desktop at /agent with their Parley email and password. The https URL of your own backend instead: the desktop skips Parley's sign-in and fetches {\"token\": \"...\"} from it (with the browser's cookies for that site, so it must allow this origin by CORS with credentials): an access token your backend minted with a Parley API key, with chat and TaskRouter grants for the agent's worker. See docs/agent.md."`
	WebDir                string        `env:"PARLEY_WEB_DIR" doc:"Serve the web files (SDK, widget, agent desktop) from this directory instead of the embedded copy, for development. Empty: embedded."`
}

// Default returns the configuration Parley runs with when nothing is set.
func Default() Config {
	return Config{
		Addr:          "127.0.0.1:8080",
		DataDir:       "./parley-data",
		LogLevel:      "info",
		LogFormat:     "text",
		MaxBodyBytes:  1 << 20,
		ShutdownGrace: 15 * time.Second,
		NATSPrefix:    "parley",

		GuestTokenTTL:   time.Hour,
		GuestTokenRate:  30,
		GuestTokenBurst: 10,
		TokenKeyRecheck: 30 * time.Second,

		RealtimeHeartbeat:     25 * time.Second,
		RealtimeTokenWarning:  3 * time.Minute,
		RealtimeOutbox:        256,
		RealtimeIdentityRate:  5,
		RealtimeIdentityBurst: 10,
		RealtimeChannelRate:   20,
		RealtimeChannelBurst:  40,
		FlexIdleTimeout:       24 * time.Hour,
	}
}

// Field describes one knob, for documentation.
type Field struct {
	Env, Flag, Doc, Default string
}

// Fields lists every knob with its default, in declaration order.
func Fields() []Field {
	def := Default()
	v := reflect.ValueOf(def)
	t := v.Type()
	out := make([]Field, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		env := f.Tag.Get("env")
		out = append(out, Field{Env: env, Flag: flagName(env), Doc: f.Tag.Get("doc"), Default: format(v.Field(i))})
	}
	return out
}

func flagName(env string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "PARLEY_")), "_", "-")
}

func format(v reflect.Value) string {
	if d, ok := v.Interface().(time.Duration); ok {
		return d.String()
	}
	return fmt.Sprint(v.Interface())
}

// Load builds a Config from defaults, then the environment, then flags
// (flags win). lookup is os.LookupEnv in production; tests pass their own.
func Load(fs *flag.FlagSet, args []string, lookup func(string) (string, bool)) (Config, error) {
	cfg := Default()
	v := reflect.ValueOf(&cfg).Elem()
	t := v.Type()
	var errs []error
	for i := 0; i < t.NumField(); i++ {
		env := t.Field(i).Tag.Get("env")
		if s, ok := lookup(env); ok {
			if err := set(v.Field(i), s); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", env, err))
			}
		}
		fs.Func(flagName(env), t.Field(i).Tag.Get("doc"), func(s string) error { return set(v.Field(i), s) })
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	return cfg, errors.Join(append(errs, cfg.Validate())...)
}

// FromEnv is Load with the process environment and no flags.
func FromEnv() (Config, error) {
	return Load(flag.NewFlagSet("parley", flag.ContinueOnError), nil, os.LookupEnv)
}

func set(f reflect.Value, s string) error {
	switch f.Interface().(type) {
	case string:
		f.SetString(s)
	case int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		f.SetInt(n)
	case time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration such as 30s or 1h", s)
		}
		f.SetInt(int64(d))
	default:
		return fmt.Errorf("unsupported config type %s", f.Type())
	}
	return nil
}

// httpURL parses s as an absolute http(s) URL with a host.
func httpURL(s string) (*url.URL, bool) {
	u, err := url.Parse(s)
	return u, err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// Validate reports every problem at once and fills derived defaults.
func (c *Config) Validate() error {
	var errs []error
	bad := func(env, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{env}, args...)...))
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		bad("PARLEY_ADDR", "%q is not host:port", c.Addr)
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Addr
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if _, ok := httpURL(c.PublicURL); !ok {
		bad("PARLEY_PUBLIC_URL", "%q is not an http(s) URL", c.PublicURL)
	}
	if _, ok := httpURL(c.AgentTokenURL); c.AgentTokenURL != "" && !ok {
		bad("PARLEY_AGENT_TOKEN_URL", "%q is not an http(s) URL", c.AgentTokenURL)
	}
	if c.DataDir == "" {
		bad("PARLEY_DATA_DIR", "must not be empty")
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		bad("PARLEY_DATABASE_URL", "must be empty (SQLite) or start with postgres://")
	}
	c.validateNATS(bad)
	if c.AccountSID != "" && !isSID("AC", c.AccountSID) {
		bad("PARLEY_ACCOUNT_SID", "must be AC followed by 32 lower-case hex digits")
	}
	if c.AuthToken != "" && !isHex(c.AuthToken, 32) {
		bad("PARLEY_AUTH_TOKEN", "must be 32 lower-case hex digits")
	}
	if (c.AccountSID == "") != (c.AuthToken == "") {
		bad("PARLEY_ACCOUNT_SID", "PARLEY_ACCOUNT_SID and PARLEY_AUTH_TOKEN are set together or not at all")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("PARLEY_LOG_LEVEL", "%q is not debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		bad("PARLEY_LOG_FORMAT", "%q is not text or json", c.LogFormat)
	}
	if c.MaxBodyBytes < 1024 {
		bad("PARLEY_MAX_BODY_BYTES", "must be at least 1024")
	}
	if c.ShutdownGrace < 0 {
		bad("PARLEY_SHUTDOWN_GRACE", "must not be negative")
	}
	if c.GuestTokenTTL < time.Minute || c.GuestTokenTTL > 24*time.Hour {
		bad("PARLEY_GUEST_TOKEN_TTL", "must be between 1m and 24h")
	}
	if c.GuestTokenRate < 0 {
		bad("PARLEY_GUEST_TOKEN_RATE", "must not be negative")
	}
	if c.GuestTokenBurst < 1 {
		bad("PARLEY_GUEST_TOKEN_BURST", "must be at least 1")
	}
	for _, o := range SplitList(c.AllowedOrigins) {
		if u, ok := httpURL(o); !ok || strings.Trim(u.Path, "/") != "" {
			bad("PARLEY_ALLOWED_ORIGINS", "%q is not an origin such as https://www.example.com", o)
		}
	}
	for _, p := range SplitList(c.TrustedProxies) {
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				bad("PARLEY_TRUSTED_PROXIES", "%q is not an IP address or CIDR", p)
			}
		}
	}
	if c.TokenKeyRecheck < time.Second || c.TokenKeyRecheck > time.Hour {
		bad("PARLEY_TOKEN_KEY_RECHECK", "must be between 1s and 1h")
	}
	c.validateRealtime(bad)
	if c.FlexIdleTimeout != 0 && c.FlexIdleTimeout < time.Minute {
		bad("PARLEY_FLEX_IDLE_TIMEOUT", "must be 0 (never) or at least 1m")
	}
	return errors.Join(errs...)
}

// natsPrefix is dot-separated subject tokens without wildcards.
var natsPrefix = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)

func (c *Config) validateNATS(bad func(env, format string, args ...any)) {
	for i, u := range SplitList(c.NATSURL) {
		// The entry is not echoed: it may carry a password.
		if p, err := url.Parse(u); err != nil || (p.Scheme != "nats" && p.Scheme != "tls") || p.Host == "" {
			bad("PARLEY_NATS_URL", "entry %d is not a nats:// or tls:// URL", i+1)
		}
	}
	if !natsPrefix.MatchString(c.NATSPrefix) {
		bad("PARLEY_NATS_PREFIX", "%q is not dot-separated letters, digits, _ and -", c.NATSPrefix)
	}
}

func (c *Config) validateRealtime(bad func(env, format string, args ...any)) {
	if c.RealtimeHeartbeat < time.Second || c.RealtimeHeartbeat > 10*time.Minute {
		bad("PARLEY_REALTIME_HEARTBEAT", "must be between 1s and 10m")
	}
	if c.RealtimeTokenWarning < 0 {
		bad("PARLEY_REALTIME_TOKEN_WARNING", "must not be negative")
	}
	if c.RealtimeOutbox < 8 {
		bad("PARLEY_REALTIME_OUTBOX", "must be at least 8")
	}
	if c.RealtimeIdentityRate < 0 {
		bad("PARLEY_REALTIME_IDENTITY_RATE", "must not be negative")
	}
	if c.RealtimeIdentityBurst < 1 {
		bad("PARLEY_REALTIME_IDENTITY_BURST", "must be at least 1")
	}
	if c.RealtimeChannelRate < 0 {
		bad("PARLEY_REALTIME_CHANNEL_RATE", "must not be negative")
	}
	if c.RealtimeChannelBurst < 1 {
		bad("PARLEY_REALTIME_CHANNEL_BURST", "must be at least 1")
	}
}

// SplitList splits a comma-separated knob, dropping blanks.
func SplitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func isSID(prefix, s string) bool {
	return len(s) == 34 && strings.HasPrefix(s, prefix) && isHex(s[2:], 32)
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// MarkdownTable renders the configuration table that the README carries.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| Environment variable | Flag | Default | Meaning |\n| --- | --- | --- | --- |\n")
	for _, f := range Fields() {
		def := f.Default
		if def == "" || def == "0s" {
			def = "(empty)"
		}
		fmt.Fprintf(&b, "| `%s` | `-%s` | `%s` | %s |\n", f.Env, f.Flag, def, f.Doc)
	}
	return b.String()
}
