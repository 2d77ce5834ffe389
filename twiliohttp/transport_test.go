package twiliohttp

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRewrite(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	c := Client(srv.URL + "/base/")
	for _, u := range []string{
		"https://chat.twilio.com/v2/Services?PageSize=2",
		"https://flex-api.twilio.com/v1/FlexFlows",
		"https://taskrouter.dublin.ie1.twilio.com/v1/Workspaces",
		"https://api.twilio.com/2010-04-01/Accounts/AC1/Keys.json",
		srv.URL + "/base/chat/v2/Services?PageToken=PA1",
	} {
		req, _ := http.NewRequest("GET", u, nil)
		req.SetBasicAuth("AC1", "secret")
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if req.URL.String() != u {
			t.Fatalf("the caller's request was modified: %s", req.URL)
		}
	}
	want := []string{
		"GET /base/chat/v2/Services?PageSize=2 Basic QUMxOnNlY3JldA==",
		"GET /base/flex-api/v1/FlexFlows Basic QUMxOnNlY3JldA==",
		"GET /base/taskrouter/v1/Workspaces Basic QUMxOnNlY3JldA==",
		"GET /base/api/2010-04-01/Accounts/AC1/Keys.json Basic QUMxOnNlY3JldA==",
		"GET /base/chat/v2/Services?PageToken=PA1 Basic QUMxOnNlY3JldA==",
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d: got %q, want %q", i, got[i], want[i])
		}
	}
}
