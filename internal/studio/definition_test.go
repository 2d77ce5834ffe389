package studio

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// flexWebchatFlow is the shape of Twilio's default Flex web chat flow,
// with a voice widget as exported flows often carry.
const flexWebchatFlow = `{
  "description": "Webchat Flow",
  "states": [
    {"name": "Trigger", "type": "trigger",
     "transitions": [{"event": "incomingMessage", "next": "SendMessageToAgent"}, {"event": "incomingCall", "next": "greet_call"}, {"event": "incomingRequest"}],
     "properties": {"offset": {"x": 0, "y": 0}}},
    {"name": "SendMessageToAgent", "type": "send-to-flex",
     "transitions": [{"event": "callComplete"}, {"event": "failedToEnqueue"}, {"event": "callFailure"}],
     "properties": {"offset": {"x": 20, "y": 370}, "workflow": "WW0123456789abcdef0123456789abcdef", "channel": "TC0123456789abcdef0123456789abcdef",
       "attributes": "{\"name\": \"{{trigger.message.ChannelAttributes.from}}\", \"channelType\": \"{{trigger.message.ChannelAttributes.channel_type}}\", \"channelSid\": \"{{trigger.message.ChannelSid}}\"}"}},
    {"name": "greet_call", "type": "say-play", "transitions": [{"event": "audioComplete"}],
     "properties": {"offset": {"x": 400, "y": 200}, "say": "Hello", "loop": 1}}
  ],
  "initial_state": "Trigger",
  "flags": {"allow_concurrent_calls": true}
}`

func TestTwilioExportImportsWithVoiceWarning(t *testing.T) {
	f, problems := ParseDefinition([]byte(flexWebchatFlow))
	if len(problems) > 0 {
		t.Fatalf("problems: %+v", problems)
	}
	if len(f.Warnings) != 1 || !strings.Contains(f.Warnings[0].Message, `"greet_call"`) || !strings.Contains(f.Warnings[0].Message, "never runs") {
		t.Fatalf("warnings: %+v", f.Warnings)
	}
	// twilio-go sends a string definition as a JSON string of JSON.
	quoted, _ := json.Marshal(flexWebchatFlow)
	if _, problems := ParseDefinition(quoted); len(problems) > 0 {
		t.Fatalf("quoted definition: %+v", problems)
	}
}

func TestValidationReportsEveryProblemWithItsState(t *testing.T) {
	def := `{"initial_state":"Trigger","states":[
	  {"name":"Trigger","type":"trigger","transitions":[{"event":"incomingMessage","next":"nowhere"}]},
	  {"name":"mystery","type":"teleport","transitions":[]},
	  {"name":"send","type":"send-message","transitions":[{"event":"delivered"}],"properties":{"bodyy":"x"}},
	  {"name":"ask","type":"send-and-wait-for-reply","transitions":[],"properties":{"body":"hi","timeout":"soon"}},
	  {"name":"split","type":"split-based-on","properties":{"input":"{% endfor %}"},"transitions":[{"event":"match","next":"send","conditions":[{"type":"fuzzy","value":"a"}]},{"event":"match","next":"send","conditions":[{"type":"regex","value":"("}]}]},
	  {"name":"http","type":"make-http-request","properties":{"method":"BREW"},"transitions":[]},
	  {"name":"flex","type":"send-to-flex","properties":{},"transitions":[]},
	  {"name":"vars","type":"set-variables","properties":{"variables":[{"key":"","value":"{% if %}"}]},"transitions":[]},
	  {"name":"send","type":"send-message","properties":{"body":"dup"},"transitions":[]}
	]}`
	_, problems := ParseDefinition([]byte(def))
	want := []string{
		`state "Trigger": transition "incomingMessage" leads to "nowhere"`,
		`state "mystery" (teleport): unknown widget type "teleport"`,
		`state "send" (send-message): properties: unknown field "bodyy"`,
		`state "ask" (send-and-wait-for-reply): property timeout must be a whole number`,
		`state "split" (split-based-on): property input is not a valid Liquid template`,
		`condition type "fuzzy" is not one of Twilio's split conditions`,
		`the regular expression does not compile`,
		`state "http" (make-http-request): property url is required`,
		`property method must be GET or POST`,
		`state "flex" (send-to-flex): property workflow is required`,
		`property channel is required`,
		`state "vars" (set-variables): entry 0 of variables has no key`,
		`state "send": the name is used by another state`,
	}
	all := Summary(problems)
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("missing %q in\n%s", w, strings.ReplaceAll(all, "; ", "\n"))
		}
	}
}

func TestStructuralProblems(t *testing.T) {
	for name, tc := range map[string]struct{ def, want string }{
		"not json":        {`{`, "not a valid flow definition"},
		"unknown top key": {`{"initial_state":"T","states":[],"colour":"red"}`, `unknown field "colour"`},
		"no states":       {`{"initial_state":"T","states":[]}`, "no states"},
		"no initial":      {`{"states":[{"name":"T","type":"trigger","transitions":[]}]}`, "initial_state is missing"},
		"bad initial":     {`{"initial_state":"X","states":[{"name":"T","type":"trigger","transitions":[]}]}`, `initial_state "X" names no state`},
		"two triggers": {`{"initial_state":"T","states":[{"name":"T","type":"trigger","transitions":[]},{"name":"U","type":"trigger","transitions":[]}]}`,
			"exactly one trigger"},
		"bad event": {`{"initial_state":"T","states":[{"name":"T","type":"trigger","transitions":[{"event":"incomingFax"}]}]}`,
			`transition event "incomingFax" is not one of trigger's events`},
		"trailing data": {`{"initial_state":"T","states":[]} {}`, "data after"},
	} {
		_, problems := ParseDefinition([]byte(tc.def))
		if !strings.Contains(Summary(problems), tc.want) {
			t.Errorf("%s: %s does not contain %q", name, Summary(problems), tc.want)
		}
	}
}

func TestSplitConditions(t *testing.T) {
	for _, tc := range []struct {
		typ, in, value string
		want           bool
	}{
		{"equal_to", "Yes", "yes", true}, {"equal_to", "yes ", "no", false},
		{"not_equal_to", "a", "b", true}, {"not_equal_to", "a", "A", false},
		{"matches_any_of", "Sales", "support, sales ,billing", true}, {"matches_any_of", "x", "a,b", false},
		{"does_not_match_any_of", "x", "a,b", true}, {"does_not_match_any_of", "a", "a,b", false},
		{"is_blank", "  ", "", true}, {"is_blank", "x", "", false},
		{"is_not_blank", "x", "", true}, {"is_not_blank", "", "", false},
		{"regex", "order 12345", `\d{5}`, true}, {"regex", "order", `\d+`, false}, {"regex", "x", "(", false},
		{"contains", "I need HELP now", "help", true}, {"contains", "fine", "help", false},
		{"does_not_contain", "fine", "help", true}, {"does_not_contain", "help me", "HELP", false},
		{"starts_with", "Agent please", "agent", true}, {"starts_with", "an agent", "agent", false},
		{"does_not_start_with", "an agent", "agent", true}, {"does_not_start_with", "agent", "Agent", false},
		{"less_than", "9", "10", true}, {"less_than", "10", "9", false}, {"less_than", "abc", "10", false},
		{"greater_than", "10.5", "10", true}, {"greater_than", "10", "10", false}, {"greater_than", "x", "1", false},
		{"is_before_time", "08:30", "9:00am", true}, {"is_before_time", "17:00", "09:00", false},
		{"is_before_time", "2026-11-25T08:00:00Z", "09:00", true},
		{"is_after_time", "5:30 PM", "17:00", true}, {"is_after_time", "noon", "17:00", false},
		{"is_before_date", "2026-01-01", "2026-06-30", true}, {"is_before_date", "12/31/2026", "2026-06-30", false},
		{"is_after_date", "2026-11-25T10:00:00Z", "2026-11-24", true}, {"is_after_date", "someday", "2026-11-24", false},
	} {
		if got := conditionTypes[tc.typ](tc.in, tc.value); got != tc.want {
			t.Errorf("%s(%q, %q) = %v, want %v", tc.typ, tc.in, tc.value, got, tc.want)
		}
	}
	if len(conditionTypes) != 17 {
		t.Fatalf("Twilio documents 17 condition types, the table has %d", len(conditionTypes))
	}
}

func TestTemplates(t *testing.T) {
	ctx := map[string]any{"trigger": map[string]any{"message": map[string]any{"Body": "hi", "Index": float64(3),
		"ChannelAttributes": map[string]any{"pre_engagement_data": map[string]any{"friendlyName": "Ada"}}}},
		"flow": map[string]any{"variables": map[string]any{"n": "2"}}}
	for src, want := range map[string]string{
		"{{trigger.message.Body | upcase}}":                                      "HI",
		"{{trigger.message.Index}}":                                              "3",
		"{{trigger.message.ChannelAttributes.pre_engagement_data.friendlyName}}": "Ada",
		"{% if flow.variables.n == '2' %}two{% else %}other{% endif %}":          "two",
		"{{flow.variables.n | plus: 1}}":                                         "3",
		"{{missing.value}}":                                                      "",
		"plain":                                                                  "plain",
	} {
		got, err := renderTemplate(src, ctx)
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", src, got, err, want)
		}
	}
	if _, err := renderTemplate(`{% include "/etc/passwd" %}`, ctx); err == nil {
		t.Error("include must not read files")
	}
	if _, err := renderTemplate(`{% for i in (1..5000) %}xxxxxxxxxxxxxxxxxxxx{% endfor %}`, ctx); err == nil {
		t.Error("a template that renders more than the limit must fail")
	}
	ctx["flow"].(map[string]any)["data"] = map[string]any{"n": "1000000000"}
	for _, src := range []string{`{% for i in (1..1000000000) %}{% endfor %}`, `{% for i in (1..flow.data.n) %}{% endfor %}`,
		`{% for i in (1..200) %}{% for j in (1..200) %}{% endfor %}{% endfor %}`, `{% for i in (1..1e300) %}{% endfor %}`} {
		if _, err := renderTemplate(src, ctx); err == nil {
			t.Errorf("%s: a loop of a billion passes must be refused", src)
		}
	}
	if got, err := renderTemplate(`{% for i in (1..3) %}{{i}}{% endfor %}`, ctx); err != nil || got != "123" {
		t.Errorf("small range: %q %v", got, err)
	}
}

func TestOutgoingRefusesCredentialsToParley(t *testing.T) {
	c := newHTTPCaller(Options{SelfOrigins: []string{"https://parley.example.com", "http://127.0.0.1:8080"},
		MaxHTTPTimeout: 1e9, MaxResponseBytes: 10})
	for _, tc := range []struct {
		target string
		header string
		refuse bool
	}{
		{"https://parley.example.com/studio/v2/Flows", "Authorization", true},
		{"https://parley.example.com:443/api/2010-04-01/Accounts", "X-Twilio-Token", true},
		{"https://user:pass@parley.example.com/x", "", true},
		{"http://localhost:8080/metrics", "Cookie", true},
		{"http://[::1]:8080/x", "Authorization", true},
		{"https://parley.example.com/webchat.js", "", false}, // no credentials: harmless
		{"https://api.example.com/orders", "Authorization", false},
		{"http://127.0.0.1:9999/x", "Authorization", false},
	} {
		req, _ := http.NewRequest("GET", tc.target, nil)
		if tc.header != "" {
			req.Header.Set(tc.header, "secret")
		}
		if got := c.check(req) != nil; got != tc.refuse {
			t.Errorf("%s with %q: refused=%v, want %v", tc.target, tc.header, got, tc.refuse)
		}
	}
	ans := (&httpAnswer{Status: 200, ContentType: "application/json", Body: []byte(`{"a":[1,{"b":"c"}]}`)}).output()
	if ans["parsed"] == nil {
		t.Fatalf("JSON answer not parsed: %v", ans)
	}
	if _, err := url.Parse("x"); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseDefinition(f *testing.F) {
	for _, seed := range []string{flexWebchatFlow, askFlow("5"), defJSON("greet", sendState("greet", "Hello {{trigger.message.Body}}", "")),
		`{}`, `[]`, `"{}"`, `{"initial_state":"T","states":[{"name":"T","type":"trigger","transitions":[{"event":"incomingMessage","next":"T"}]}]}`,
		`{"initial_state":"T","states":[{"name":"T","type":"split-based-on","properties":{"input":"{{"},"transitions":[{"event":"match","conditions":[{"type":"regex","value":"(a"}]}]}]}`,
		`{"states":[{"name":"x","type":"make-http-request","properties":{"timeout":3.5,"add_twilio_auth":"maybe"}}]}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		flow, problems := ParseDefinition(raw)
		if (flow == nil) == (len(problems) == 0) {
			t.Fatalf("flow %v with %d problems", flow != nil, len(problems))
		}
		if flow == nil {
			return
		}
		// A valid flow round-trips: its canonical form is valid too.
		again, problems := ParseDefinition(canonical(flow))
		if len(problems) > 0 || len(again.states) != len(flow.states) {
			t.Fatalf("canonical form invalid: %v", problems)
		}
		if flow.state(flow.Def.InitialState) == nil {
			t.Fatal("valid flow without its initial state")
		}
	})
}

// Templates come from flows and their inputs from visitors: whatever
// either holds, rendering returns (an error at worst), never panics or
// runs away.
func FuzzRenderTemplate(f *testing.F) {
	for _, seed := range []string{"{{trigger.message.Body}}", "{% for i in (1..5) %}{{i}}{% endfor %}", "{% include 'x' %}",
		"{{ 'a' | append: trigger.message.Body | upcase }}", "{% if a %}{% else %}", "{{", "{% for i in (1..n) %}{% endfor %}",
		"{% case x %}{% when 1 %}one{% endcase %}", "{{ 10 | divided_by: 0 }}", "{% cycle 'a','b' %}"} {
		f.Add(seed, "1000")
	}
	f.Fuzz(func(t *testing.T, src, input string) {
		ctx := map[string]any{"n": input, "x": input, "a": input,
			"trigger": map[string]any{"message": map[string]any{"Body": input}}}
		out, err := renderTemplate(src, ctx)
		if err == nil && len(out) > maxRenderBytes {
			t.Fatalf("rendered %d bytes", len(out))
		}
		_ = checkTemplate(src)
	})
}
