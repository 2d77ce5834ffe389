package config

import (
	"flag"
	"os"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadPrecedence(t *testing.T) {
	cfg, err := Load(flag.NewFlagSet("t", flag.ContinueOnError), []string{"-addr", "127.0.0.1:9000"},
		env(map[string]string{"PARLEY_ADDR": "127.0.0.1:7000", "PARLEY_DATA_DIR": "/tmp/x", "PARLEY_SHUTDOWN_GRACE": "3s"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:9000" || cfg.DataDir != "/tmp/x" || cfg.ShutdownGrace.Seconds() != 3 {
		t.Fatalf("flags must override env, env defaults: %+v", cfg)
	}
	if cfg.PublicURL != "http://127.0.0.1:9000" {
		t.Fatalf("public URL default = %q", cfg.PublicURL)
	}
}

func TestValidateReportsEverything(t *testing.T) {
	_, err := Load(flag.NewFlagSet("t", flag.ContinueOnError), nil, env(map[string]string{
		"PARLEY_ADDR": "nope", "PARLEY_DATABASE_URL": "mysql://x", "PARLEY_ACCOUNT_SID": "AC1",
		"PARLEY_LOG_LEVEL": "loud", "PARLEY_MAX_BODY_BYTES": "ten", "PARLEY_AGENT_TOKEN_URL": "/token",
	}))
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, name := range []string{"PARLEY_ADDR", "PARLEY_DATABASE_URL", "PARLEY_ACCOUNT_SID", "PARLEY_LOG_LEVEL", "PARLEY_MAX_BODY_BYTES", "PARLEY_AGENT_TOKEN_URL"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
}

// The README's configuration table is rendered from the struct's tags, so
// a knob cannot be added without documenting it. PARLEY_UPDATE_README=1
// rewrites the table in place.
func TestREADMETable(t *testing.T) {
	const path = "../../README.md"
	const start, end = "<!-- config-table -->\n", "<!-- /config-table -->"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i, j := strings.Index(readme, start), strings.Index(readme, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q ... %q markers", start, end)
	}
	want := readme[:i+len(start)] + MarkdownTable() + readme[j:]
	if readme == want {
		return
	}
	if os.Getenv("PARLEY_UPDATE_README") == "1" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("README.md's configuration table is out of date: run PARLEY_UPDATE_README=1 go test ./internal/config/")
}
