package agent_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	twjwt "github.com/twilio/twilio-go/client/jwt"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
	trapi "github.com/twilio/twilio-go/rest/taskrouter/v1"

	"github.com/parleychat/parley/internal/agent"
	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/token"
)

// business mints agents' tokens as a business's own backend would: with
// twilio-go's jwt package and a Parley API key.
type business struct {
	t                      *testing.T
	account, key, secret   string
	chatService, workspace string
}

func newBusiness(t *testing.T, srv *parleytest.Server) *business {
	t.Helper()
	k, err := srv.Admin().Api.CreateNewKey(&openapi.CreateNewKeyParams{})
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	return &business{t: t, account: srv.AccountSID, key: *k.Sid, secret: *k.Secret,
		chatService: srv.App.FlexSetup.ChatServiceSID, workspace: srv.App.FlexSetup.WorkspaceSID}
}

// token for identity on worker; validUntil zero: an hour from now.
func (b *business) token(identity, worker, role string, validUntil time.Time) string {
	b.t.Helper()
	p := twjwt.AccessTokenParams{AccountSid: b.account, SigningKeySid: b.key, Secret: b.secret, Identity: identity,
		Grants: []twjwt.BaseGrant{&twjwt.ChatGrant{ServiceSid: b.chatService},
			&twjwt.TaskRouterGrant{WorkspaceSid: b.workspace, WorkerSid: worker, Role: role}}}
	if !validUntil.IsZero() {
		p.Nbf, p.ValidUntil = float64(validUntil.Add(-2*time.Hour).Unix()), float64(validUntil.Unix())
	}
	tok := twjwt.CreateAccessToken(p)
	raw, err := tok.ToJwt()
	if err != nil {
		b.t.Fatal(err)
	}
	return raw
}

// withToken calls the desktop's API with an access token instead of the
// session cookie, and no Origin header (a token is not ambient).
func withToken(t *testing.T, srv *parleytest.Server, raw, method, path string, form url.Values) (int, map[string]any) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set(agent.TokenHeader, raw)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(b, &out)
	return res.StatusCode, out
}

// TestDeskWithBusinessToken: a business that signs its agents in itself
// hands the desktop a token it minted with an API key. The desk's API
// takes it in X-Twilio-Token: the worker and the role come from the
// TaskRouter grant (a Parley agent's worker keeps that agent's name, any
// other worker of the workspace goes by the worker's name), and what the
// token does not grant is refused.
func TestDeskWithBusinessToken(t *testing.T) {
	srv := parleytest.Start(t)
	setup := srv.App.FlexSetup
	ada := createAgent(t, srv, "ada@example.com", "supervisor")

	biz := newBusiness(t, srv)
	for role, want := range map[string]string{"supervisor": "supervisor", "": "agent"} {
		code, me := withToken(t, srv, biz.token("ada@corp.example", ada["worker_sid"].(string), role, time.Time{}), "GET", "/agent/desk/me", nil)
		if code != 200 || me["identity"] != "ada@corp.example" {
			t.Fatalf("me with a business token: %d %v", code, me)
		}
		if a := me["agent"].(map[string]any); a["role"] != want || a["friendly_name"] != ada["friendly_name"] || a["sid"] != ada["sid"] {
			t.Fatalf("the Parley agent behind the worker, with the grant's role %q: %v, want role %s", role, a, want)
		}
	}
	// Only a token with the supervisor role sees the supervisor view.
	if code, _ := withToken(t, srv, biz.token("ada@corp.example", ada["worker_sid"].(string), "", time.Time{}), "GET", "/agent/supervisor/overview", nil); code != 403 {
		t.Fatalf("the supervisor view for a token without the role: %d, want 403", code)
	}
	if code, _ := withToken(t, srv, biz.token("ada@corp.example", ada["worker_sid"].(string), "supervisor", time.Time{}), "GET", "/agent/supervisor/overview", nil); code != 200 {
		t.Fatalf("the supervisor view for a token with the role: %d, want 200", code)
	}

	// A worker the business created itself through the TaskRouter API.
	name := "Bo"
	w, err := srv.Admin().TaskrouterV1.CreateWorker(setup.WorkspaceSID, &trapi.CreateWorkerParams{FriendlyName: &name})
	if err != nil {
		t.Fatal(err)
	}
	bo := biz.token("bo@corp.example", *w.Sid, "", time.Time{})
	code, me := withToken(t, srv, bo, "GET", "/agent/desk/me", nil)
	if code != 200 || me["agent"].(map[string]any)["role"] != "agent" || me["agent"].(map[string]any)["friendly_name"] != "Bo" {
		t.Fatalf("me for a plain worker: %d %v", code, me)
	}
	code, me = withToken(t, srv, biz.token("bo@corp.example", *w.Sid, "supervisor", time.Time{}), "GET", "/agent/desk/me", nil)
	if code != 200 || me["agent"].(map[string]any)["role"] != "supervisor" {
		t.Fatalf("a plain worker's token with the supervisor role: %d %v", code, me)
	}
	code, acts := withToken(t, srv, bo, "GET", "/agent/desk/activities", nil)
	if code != 200 {
		t.Fatalf("activities: %d %v", code, acts)
	}
	avail := ""
	for _, a := range acts["activities"].([]any) {
		if a := a.(map[string]any); a["friendly_name"] == "Available" {
			avail = a["sid"].(string)
		}
	}
	// State changes need no Origin with a token.
	code, ws := withToken(t, srv, bo, "POST", "/agent/desk/activity", url.Values{"ActivitySid": {avail}})
	if code != 200 || ws["available"] != true {
		t.Fatalf("set activity with a token: %d %v", code, ws)
	}
	worker, err := srv.Admin().TaskrouterV1.FetchWorker(setup.WorkspaceSID, *w.Sid)
	if err != nil || worker.Available == nil || !*worker.Available {
		t.Fatalf("the worker did not become available: %v %+v", err, worker)
	}

	refused := map[string]struct {
		raw  string
		code int
	}{
		"no TaskRouter grant": {srv.Token(t, token.Grant{Identity: "x", ChatServiceSID: setup.ChatServiceSID, TTL: time.Hour}), 403},
		"guest token":         {srv.Token(t, token.Grant{Identity: "guest", ChatServiceSID: setup.ChatServiceSID, Guest: true, TTL: time.Hour}), 403},
		"not a token":         {"eyJhbGciOiJIUzI1NiJ9.e30.x", 401},
		"expired":             {biz.token("bo@corp.example", *w.Sid, "", time.Now().Add(-time.Minute)), 401},
		"another workspace":   {(&business{t: t, account: biz.account, key: biz.key, secret: biz.secret, chatService: biz.chatService, workspace: "WS" + strings.Repeat("0", 32)}).token("bo@corp.example", *w.Sid, "", time.Time{}), 403},
	}
	for name, c := range refused {
		code, body := withToken(t, srv, c.raw, "GET", "/agent/desk/reservations", nil)
		if code != c.code || body["message"] == nil {
			t.Errorf("%s: %d %v, want %d with a message", name, code, body, c.code)
		}
	}
}
