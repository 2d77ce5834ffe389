package agent_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/store/storetest"
)

type cannedBody struct {
	SID          string `json:"sid"`
	AccountSID   string `json:"account_sid"`
	FriendlyName string `json:"friendly_name"`
	Category     string `json:"category"`
	Body         string `json:"body"`
	URL          string `json:"url"`
}

// TestCannedResponsesAPI: create, fetch, update, list (paged), delete;
// validation; account credentials only; another account sees nothing;
// the desk reads its account's canned responses with its session.
func TestCannedResponsesAPI(t *testing.T) {
	for _, backend := range []string{storetest.SQLite, storetest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			srv := parleytest.Start(t, parleytest.Backend(t, backend))
			admin := func(method, path string, form url.Values) (int, string) {
				t.Helper()
				return srv.Request(t, method, path, form, srv.AccountSID, srv.AuthToken)
			}
			code, body := admin("POST", "/agents/v1/CannedResponses", url.Values{"FriendlyName": {"  Greeting "},
				"Body": {"Hello <b>there</b>,\nhow can I help?"}, "Category": {"General"}})
			var c cannedBody
			_ = json.Unmarshal([]byte(body), &c)
			if code != 201 || !strings.HasPrefix(c.SID, "CR") || c.FriendlyName != "Greeting" || c.Body != "Hello <b>there</b>,\nhow can I help?" ||
				c.AccountSID != srv.AccountSID || c.URL != srv.URL+"/agents/v1/CannedResponses/"+c.SID {
				t.Fatalf("create: %d %s", code, body)
			}
			for _, bad := range []url.Values{
				{"Body": {"no name"}},
				{"FriendlyName": {"no body"}},
				{"FriendlyName": {"   "}, "Body": {"blank name"}},
				{"FriendlyName": {"x"}, "Body": {"   "}},
				{"FriendlyName": {strings.Repeat("n", 65)}, "Body": {"x"}},
				{"FriendlyName": {"x"}, "Body": {strings.Repeat("é", 4097)}},
				{"FriendlyName": {"x"}, "Body": {"x"}, "Category": {strings.Repeat("c", 65)}},
			} {
				if code, body := admin("POST", "/agents/v1/CannedResponses", bad); code != 400 || !strings.Contains(body, `"code":20001`) && !strings.Contains(body, `"code":21`) {
					t.Fatalf("bad create %v: %d %s", bad, code, body)
				}
			}
			if code, _ := admin("POST", "/agents/v1/CannedResponses", url.Values{"FriendlyName": {"x"}, "Body": {strings.Repeat("é", 4096)}}); code != 201 {
				t.Fatalf("a 4096-character body: %d", code)
			}

			code, body = admin("POST", "/agents/v1/CannedResponses/"+c.SID, url.Values{"Body": {"Hi!"}, "Category": {""}})
			_ = json.Unmarshal([]byte(body), &c)
			if code != 200 || c.Body != "Hi!" || c.Category != "" || c.FriendlyName != "Greeting" {
				t.Fatalf("update: %d %s", code, body)
			}
			if code, _ := admin("POST", "/agents/v1/CannedResponses/"+c.SID, url.Values{"FriendlyName": {""}}); code != 400 {
				t.Fatalf("update to an empty name: %d", code)
			}
			if code, body := admin("GET", "/agents/v1/CannedResponses/"+c.SID, nil); code != 200 || !strings.Contains(body, `"body":"Hi!"`) {
				t.Fatalf("fetch: %d %s", code, body)
			}

			// Paging: 2 + 3 more, two a page.
			for i := 0; i < 3; i++ {
				admin("POST", "/agents/v1/CannedResponses", url.Values{"FriendlyName": {fmt.Sprint("Reply ", i)}, "Body": {"b"}})
			}
			var seen []string
			next := "/agents/v1/CannedResponses?PageSize=2"
			for pages := 0; next != ""; pages++ {
				code, body := admin("GET", next, nil)
				var page struct {
					Canned []cannedBody `json:"canned_responses"`
					Meta   struct {
						Key         string  `json:"key"`
						NextPageURL *string `json:"next_page_url"`
					} `json:"meta"`
				}
				_ = json.Unmarshal([]byte(body), &page)
				if code != 200 || page.Meta.Key != "canned_responses" || len(page.Canned) > 2 || pages > 3 {
					t.Fatalf("list page: %d %s", code, body)
				}
				for _, r := range page.Canned {
					seen = append(seen, r.SID)
				}
				next = ""
				if page.Meta.NextPageURL != nil {
					next = strings.TrimPrefix(*page.Meta.NextPageURL, srv.URL)
				}
			}
			if len(seen) != 5 || seen[0] != c.SID {
				t.Fatalf("paged through %d canned responses (%v), want 5 oldest first", len(seen), seen)
			}

			// Account credentials only; another account sees nothing.
			if code, _ := srv.Request(t, "GET", "/agents/v1/CannedResponses", nil, "", ""); code != 401 {
				t.Fatalf("list without credentials: %d", code)
			}
			other, err := srv.App.Accounts.Create(t.Context(), "other")
			if err != nil {
				t.Fatal(err)
			}
			as := func(method, path string, form url.Values) int {
				code, _ := srv.Request(t, method, path, form, other.SID, other.AuthToken)
				return code
			}
			if as("GET", "/agents/v1/CannedResponses/"+c.SID, nil) != 404 || as("DELETE", "/agents/v1/CannedResponses/"+c.SID, nil) != 404 ||
				as("POST", "/agents/v1/CannedResponses/"+c.SID, url.Values{"Body": {"mine now"}}) != 404 {
				t.Fatal("another account reached this account's canned response")
			}
			if code, body := srv.Request(t, "GET", "/agents/v1/CannedResponses", nil, other.SID, other.AuthToken); code != 200 || !strings.Contains(body, `"canned_responses":[]`) {
				t.Fatalf("another account's list: %d %s", code, body)
			}

			// The desk reads them with its session; an access token is no admin.
			createAgent(t, srv, "di@example.com", "agent")
			d := newDesk(t, srv)
			d.must("POST", "/agent", url.Values{"Email": {"di@example.com"}, "Password": {"correct horse battery"}}, nil)
			var desk struct {
				Canned []cannedBody `json:"canned_responses"`
			}
			d.must("GET", "/agent/desk/canned-responses", nil, &desk)
			if len(desk.Canned) != 5 {
				t.Fatalf("the desk sees %d canned responses, want 5", len(desk.Canned))
			}
			var tok struct{ Token string }
			d.must("GET", "/agent/token", nil, &tok)
			if code, _ := srv.Request(t, "POST", "/agents/v1/CannedResponses", url.Values{"FriendlyName": {"x"}, "Body": {"x"}}, "token", tok.Token); code != 401 && code != 403 {
				t.Fatalf("an agent's token creating a canned response: %d", code)
			}

			if code, _ := admin("DELETE", "/agents/v1/CannedResponses/"+c.SID, nil); code != 204 {
				t.Fatalf("delete: %d", code)
			}
			if code, _ := admin("GET", "/agents/v1/CannedResponses/"+c.SID, nil); code != 404 {
				t.Fatalf("deleted: %d", code)
			}
			if code, _ := admin("GET", "/agents/v1/CannedResponses/CRnot-a-sid", nil); code != 404 {
				t.Fatalf("malformed SID: %d", code)
			}
		})
	}
}
