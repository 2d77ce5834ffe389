package chat

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/rest"
)

func badRequest(t *testing.T, err error) {
	t.Helper()
	if e, ok := rest.AsError(err); !ok || e.Status != 400 || e.Code != rest.CodeInvalidParam {
		t.Fatalf("want a 400/20001 rest.Error, got %v", err)
	}
}

// Webhook filters: what is accepted is a list of known event names without
// repeats; everything else is a 400.
func FuzzParseFilters(f *testing.F) {
	for _, seed := range []string{"onMessageSent", "onMessageSent\nonMemberAdded", "onMessageSent,onMessageSent",
		" onChannelUpdated , onMemberRemoved ", "onmessagesent", "", ",,,", "onMessageSend", strings.Repeat("x", 200)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		values := strings.Split(in, "\n")
		got, err := parseFilters("Configuration.Filters", values, channelEvents)
		if err != nil {
			badRequest(t, err)
			if len(err.Error()) > 2000 {
				t.Fatalf("error message not bounded: %d bytes", len(err.Error()))
			}
			return
		}
		for i, name := range got {
			if !slices.Contains(channelEvents, name) || slices.Contains(got[:i], name) {
				t.Fatalf("accepted %q in %v", name, got)
			}
		}
	})
}

// Attributes: accepted exactly when bounded, UTF-8 and JSON.
func FuzzValidAttributes(f *testing.F) {
	for _, seed := range []string{"{}", `{"a":[1,2,{"b":null}]}`, "[", `"str"`, "\xff", `{"a":"` + strings.Repeat("x", MaxAttributesBytes) + `"}`, ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		err := validAttributes("Attributes", in)
		want := len(in) <= MaxAttributesBytes && utf8.ValidString(in) && json.Valid([]byte(in))
		if (err == nil) != want {
			t.Fatalf("validAttributes(%q) = %v, want ok=%v", in, err, want)
		}
		if err != nil {
			badRequest(t, err)
		}
	})
}

// Trigger words: a word matches itself inside any sentence, in any case.
func FuzzTriggered(f *testing.F) {
	f.Add("help", "I need HELP now")
	f.Add("agent", "agents please")
	f.Add("", "")
	f.Add("ß", "STRASSE ß")
	f.Fuzz(func(t *testing.T, word, body string) {
		got := triggered(body, []string{word})
		simple := word != "" && strings.IndexFunc(word, func(r rune) bool { return !('a' <= r && r <= 'z') }) < 0
		if simple && !triggered("x "+strings.ToUpper(word)+"!", []string{word}) {
			t.Fatalf("%q does not trigger on itself", word)
		}
		if word == "" && got {
			t.Fatal("an empty trigger matched")
		}
	})
}

// The message and channel forms: any input is parsed or refused with a
// 400 naming a parameter, never a panic.
func FuzzMessageAndChannelForms(f *testing.F) {
	for _, seed := range []string{"Body=hi&Attributes=%7B%7D", "DateCreated=2016-08-01T22:10:40Z&From=alice",
		"DateCreated=yesterday", "Attributes=%7B", "FriendlyName=%00", "UniqueName=CH00000000000000000000000000000000",
		"LastConsumedMessageIndex=-1", "Configuration.Filters=onMessageSent&Configuration.RetryCount=9"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, query string) {
		values, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		form := func() *rest.Form { return rest.NewForm(values) }
		errs := []error{second(messageFields(form())), second(channelFields(form(), 64)), second(memberFields(form())),
			second(webhookFields(form())), second(servicePatch(form()))}
		for _, err := range errs {
			if err != nil {
				e, ok := rest.AsError(err)
				if !ok || e.Status != 400 || !strings.Contains(e.Message, "parameter") {
					t.Fatalf("%q: %v", query, err)
				}
			}
		}
	})
}
