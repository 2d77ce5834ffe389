package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/parleychat/parley/internal/parleytest"
	"github.com/parleychat/parley/internal/store/storetest"
)

// A restart on the same data keeps the credentials and the data, and the
// credentials file is private.
func TestRestartKeepsCredentialsAndData(t *testing.T) {
	for _, backend := range []string{storetest.SQLite, storetest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			srv := parleytest.Start(t, parleytest.Backend(t, backend))
			name := "survives"
			k, err := srv.Admin().Api.CreateNewKey(&openapi.CreateNewKeyParams{FriendlyName: &name})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(srv.Config.DataDir, "credentials")
			info, err := os.Stat(path)
			if err != nil || info.Mode().Perm() != 0o600 {
				t.Fatalf("credentials file: %v %v", info, err)
			}
			b, _ := os.ReadFile(path)
			if !strings.Contains(string(b), "PARLEY_AUTH_TOKEN="+srv.AuthToken) {
				t.Fatalf("credentials file does not hold the token")
			}
			sid, token := srv.AccountSID, srv.AuthToken

			srv = srv.Restart(t)
			if srv.AccountSID != sid || srv.AuthToken != token || srv.App.MainCreated {
				t.Fatalf("credentials changed across restart")
			}
			got, err := srv.Admin().Api.FetchKey(*k.Sid, nil)
			if err != nil || *got.FriendlyName != name {
				t.Fatalf("key lost across restart: %v", err)
			}
		})
	}
}
