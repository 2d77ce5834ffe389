package app_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/parleychat/parley/"

// Leaves import no Parley package but other leaves' nothing; domains
// never import each other; only app imports domains. A rule that lives
// only in a document decays, so this test holds it.
var (
	leaves  = []string{"internal/rest", "internal/store", "internal/bus", "internal/obs", "internal/config", "twiliohttp", "web"}
	domains = []string{"internal/account", "internal/token", "internal/chat", "internal/realtime", "internal/taskrouter",
		"internal/studio", "internal/flex", "internal/webhook", "internal/agent"}
	// Leaf-level packages a domain may import.
	shared = []string{"internal/rest", "internal/store", "internal/bus", "internal/obs", "internal/webhook"}
)

func TestDependencyRule(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "../../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		self := strings.TrimPrefix(p.ImportPath, module)
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			switch {
			case under(self, leaves) && !under(dep, leaves):
				t.Errorf("leaf %s imports %s", self, dep)
			case under(self, leaves) && under(dep, leaves) && root(dep) != root(self) && !(self == "internal/store/storetest" && dep == "internal/store"):
				t.Errorf("leaf %s imports another leaf %s", self, dep)
			case under(self, domains) && under(dep, domains) && root(dep) != root(self) && !under(dep, shared):
				t.Errorf("domain %s imports domain %s: declare an interface and let internal/app wire them", self, dep)
			case under(dep, []string{"internal/parleytest"}):
				t.Errorf("%s imports the test harness", self)
			}
		}
	}
}

func root(p string) string {
	for _, l := range append(append([]string{}, leaves...), domains...) {
		if p == l || strings.HasPrefix(p, l+"/") {
			return l
		}
	}
	return p
}

func under(p string, set []string) bool {
	for _, s := range set {
		if p == s || strings.HasPrefix(p, s+"/") {
			return true
		}
	}
	return false
}
