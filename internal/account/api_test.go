package account_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/rest"
	"github.com/parleychat/parley/internal/store/storetest"
)

func restError(t *testing.T, err error, status, code int) {
	t.Helper()
	var e *client.TwilioRestError
	if !errors.As(err, &e) {
		t.Fatalf("got %v (%T), want *client.TwilioRestError %d/%d", err, err, status, code)
	}
	if e.Status != status || e.Code != code || e.MoreInfo == "" || e.Message == "" {
		t.Fatalf("got %+v, want %d/%d", e, status, code)
	}
}

// The API keys resource driven by Twilio's own Go helper library.
func TestKeysWithTwilioGo(t *testing.T) {
	for _, backend := range []string{storetest.SQLite, storetest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			srv := parleytest.Start(t, parleytest.Backend(t, backend))
			tw := srv.Admin()

			var sids []string
			for _, name := range []string{"a", "b", "c", "d", "e"} {
				k, err := tw.Api.CreateNewKey(&openapi.CreateNewKeyParams{FriendlyName: &name})
				if err != nil {
					t.Fatal(err)
				}
				if k.Secret == nil || len(*k.Secret) != 32 || !rest.IsSID("SK", *k.Sid) || *k.FriendlyName != name {
					t.Fatalf("created key %+v", k)
				}
				if _, err := time2822(*k.DateCreated); err != nil {
					t.Fatalf("date_created %q: %v", *k.DateCreated, err)
				}
				sids = append(sids, *k.Sid)
			}

			// Paging: twilio-go follows next_page_uri through every page.
			size := 2
			keys, err := tw.Api.ListKey(&openapi.ListKeyParams{PageSize: &size})
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != 5 {
				t.Fatalf("listed %d keys, want 5", len(keys))
			}
			for i, k := range keys {
				if *k.Sid != sids[i] {
					t.Fatalf("key %d is %s, want %s (stable order)", i, *k.Sid, sids[i])
				}
			}
			page, err := tw.Api.PageKey(&openapi.ListKeyParams{PageSize: &size}, "", "")
			if err != nil || page.NextPageUri == nil || len(page.Keys) != 2 || page.Keys[0].Sid == nil {
				t.Fatalf("first page %+v %v", page, err)
			}

			k, err := tw.Api.FetchKey(sids[0], nil)
			if err != nil || *k.Sid != sids[0] || *k.FriendlyName != "a" {
				t.Fatalf("fetch: %+v %v", k, err)
			}
			newName := "renamed"
			if k, err := tw.Api.UpdateKey(sids[0], &openapi.UpdateKeyParams{FriendlyName: &newName}); err != nil || *k.FriendlyName != newName {
				t.Fatalf("update: %+v %v", k, err)
			}
			if err := tw.Api.DeleteKey(sids[0], nil); err != nil {
				t.Fatal(err)
			}
			_, err = tw.Api.FetchKey(sids[0], nil)
			restError(t, err, 404, 20404)
			_, err = tw.Api.FetchKey("SKnot-a-sid", nil)
			restError(t, err, 404, 20404)

			// Wrong credentials.
			_, err = srv.Twilio(srv.AccountSID, strings.Repeat("0", 32)).Api.ListKey(nil)
			restError(t, err, 401, 20003)
			_, err = srv.Twilio(rest.NewSID("SK"), strings.Repeat("0", 32)).Api.ListKey(nil)
			restError(t, err, 401, 20003)

			// Another account sees none of this account's keys.
			other, err := srv.App.Accounts.Create(t.Context(), "other")
			if err != nil {
				t.Fatal(err)
			}
			otw := srv.Twilio(other.SID, other.AuthToken)
			_, err = otw.Api.FetchKey(sids[1], nil)
			restError(t, err, 404, 20404)
			_, err = otw.Api.ListKey(&openapi.ListKeyParams{PathAccountSid: &srv.AccountSID})
			restError(t, err, 404, 20404)
			if err := otw.Api.DeleteKey(sids[1], &openapi.DeleteKeyParams{PathAccountSid: &srv.AccountSID}); err == nil {
				t.Fatal("another account deleted a key")
			}
			theirs, err := otw.Api.ListKey(nil)
			if err != nil || len(theirs) != 0 {
				t.Fatalf("other account lists %d keys, %v", len(theirs), err)
			}
		})
	}
}

func time2822(s string) (any, error) { return http.ParseTime(strings.Replace(s, "+0000", "GMT", 1)) }

// The same server answers raw requests with Twilio-shaped errors.
func TestRawErrors(t *testing.T) {
	srv := parleytest.Start(t)
	keys := "/api/2010-04-01/Accounts/" + srv.AccountSID + "/Keys.json"
	for _, tc := range []struct {
		name, method, path, user, pass string
		status, code                   int
	}{
		{"no credentials", "GET", keys, "", "", 401, 20003},
		{"unknown path", "GET", "/chat/v2/Nothing", srv.AccountSID, srv.AuthToken, 404, 20404},
		{"wrong method", "PUT", keys, srv.AccountSID, srv.AuthToken, 405, 20004},
		{"bad account sid", "GET", "/api/2010-04-01/Accounts/ACnope/Keys.json", srv.AccountSID, srv.AuthToken, 404, 20404},
		{"bad page size", "GET", keys + "?PageSize=0", srv.AccountSID, srv.AuthToken, 400, 20001},
		{"bad page token", "GET", keys + "?PageToken=zz", srv.AccountSID, srv.AuthToken, 400, 20001},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := srv.Request(t, tc.method, tc.path, nil, tc.user, tc.pass)
			if status != tc.status || !strings.Contains(body, `"code":`+strconv.Itoa(tc.code)) || !strings.Contains(body, `"more_info":"https://www.twilio.com/docs/errors/`) {
				t.Fatalf("got %d %s, want %d/%d", status, body, tc.status, tc.code)
			}
		})
	}
	// An API key may use the API but not mint further keys.
	status, body := srv.Request(t, "POST", keys, nil, srv.AccountSID, srv.AuthToken)
	if status != 201 {
		t.Fatalf("create key: %d %s", status, body)
	}
}
