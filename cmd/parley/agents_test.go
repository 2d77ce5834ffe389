package main

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/store/storetest"
)

func TestAgentsCommand(t *testing.T) {
	for _, backend := range []string{storetest.SQLite, storetest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			srv := parleytest.Start(t, parleytest.Backend(t, backend))
			store := []string{"-data-dir", srv.Config.DataDir, "-database-url", srv.Config.DatabaseURL}
			cli := func(input string, args ...string) (int, string, string) {
				stdin = strings.NewReader(input)
				var out, errb bytes.Buffer
				code := run(append(args, store...), &out, &errb)
				return code, out.String(), errb.String()
			}
			code, out, errs := cli("first password\n", "agents", "create", "-email", "eve@example.com", "-name", "Eve", "-role", "supervisor", "-skills", "french,sales")
			if code != 0 || !strings.Contains(out, "created agent UA") {
				t.Fatalf("create: %d %s %s", code, out, errs)
			}
			if code, _, errs := cli("short\n", "agents", "create", "-email", "fay@example.com", "-name", "Fay"); code != 1 || !strings.Contains(errs, "Password") {
				t.Fatalf("short password: %d %s", code, errs)
			}
			code, out, _ = cli("", "agents", "list")
			if code != 0 || !strings.Contains(out, "eve@example.com") || !strings.Contains(out, "supervisor") {
				t.Fatalf("list: %d %s", code, out)
			}
			if code, _, errs := cli("second password\n", "agents", "passwd", "-email", "eve@example.com"); code != 0 {
				t.Fatalf("passwd: %d %s", code, errs)
			}
			if code, _, errs := cli("second password\n", "agents", "passwd", "-email", "nobody@example.com"); code != 1 || !strings.Contains(errs, "no agent") {
				t.Fatalf("passwd for nobody: %d %s", code, errs)
			}
			if code, _, _ := cli("", "agents", "dance"); code != 2 {
				t.Fatalf("unknown subcommand: %d", code)
			}
			// The server signs the agent in with the new password only.
			form := url.Values{"Email": {"eve@example.com"}, "Password": {"first password"}}
			if code := signIn(t, srv, form); code != 401 {
				t.Fatalf("old password: %d", code)
			}
			form.Set("Password", "second password")
			if code := signIn(t, srv, form); code != 200 {
				t.Fatalf("new password: %d", code)
			}
		})
	}
}

func signIn(t *testing.T, srv *parleytest.Server, form url.Values) int {
	t.Helper()
	req, _ := newFormRequest(srv.URL+"/agent", form)
	req.Header.Set("Origin", srv.URL)
	res, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

var httpClient = &http.Client{}

func newFormRequest(u string, form url.Values) (*http.Request, error) {
	req, err := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	if err == nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return req, err
}
