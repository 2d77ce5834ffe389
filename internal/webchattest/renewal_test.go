package webchattest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/parleychat/parley/internal/parleytest"
)

// renewalFailure: when the token cannot be renewed, the widget retries,
// then tells the visitor, who can try again once the server answers.
func renewalFailure(t *testing.T, browser context.Context, srv *parleytest.Server) {
	setup := srv.App.FlexSetup
	page := fmt.Sprintf(`<!doctype html><html lang="en"><meta charset="utf-8"><title>Renewal</title><script src="%s/webchat.js"></script>
<script>window.refreshes = 0; const f = window.fetch; window.fetch = (u, o) => (String(u).endsWith("/Tokens/refresh") && window.refreshes++, f(u, o));
Parley.Webchat.init({ accountSid: %q, flexFlowSid: %q, startEngagementOnInit: true, open: true, tokenRetryDelays: [100, 200] });</script>`,
		srv.URL, setup.AccountSID, setup.FlexFlowSID)
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, page) }))
	t.Cleanup(site.Close)

	b := newTab(t, browser, time.Minute)
	b.navigate(site.URL)
	b.until("the chat starts", `$(".composer") && Parley.Webchat.instance.panel.session.client.state === "connected"`)
	// Only the refresh endpoint is cut off; the socket stays up.
	_, err := chromedp.Call(b.ctx, network.Enable, network.EnableParams{})
	must(t, err, "network enable")
	_, err = chromedp.Call(b.ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
		MatchedNetworkConditions: []*network.Conditions{{URLPattern: srv.URL + "/iam/v1/Accounts/*/Tokens/refresh", Offline: true,
			DownloadThroughput: -1, UploadThroughput: -1}}})
	must(t, err, "block the refresh")
	b.do(`Parley.Webchat.instance.panel.session.renewWithRetries()`)
	b.until("the visitor is told", `!$(".banner").hidden && $(".banner span").textContent.startsWith("We could not keep your chat session active")`)
	var tries int
	b.js(`window.refreshes`, &tries)
	if tries != 3 {
		t.Errorf("the widget tried %d times, want 3 (once and two retries)", tries)
	}
	_, err = chromedp.Call(b.ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: []*network.Conditions{}})
	must(t, err, "unblock")
	b.do(`$(".banner button").click()`)
	b.until("renewed after trying again", `$(".banner").hidden && Parley.Webchat.instance.panel.session.renewals === 1 && Parley.Webchat.instance.panel.session.client.state === "connected"`)
}
