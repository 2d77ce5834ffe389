package taskrouter_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	tr "github.com/twilio/twilio-go/rest/taskrouter/v1"
)

var backends = []string{"sqlite", "postgres"}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func restError(t *testing.T, err error, status int, contains string) {
	t.Helper()
	var e *client.TwilioRestError
	if !errors.As(err, &e) {
		t.Fatalf("got %v (%T), want a %d TwilioRestError", err, err, status)
	}
	if e.Status != status || e.Code == 0 || !strings.Contains(e.Message, contains) {
		t.Fatalf("got %d %d %q, want %d containing %q", e.Status, e.Code, e.Message, status, contains)
	}
}

func ptr[T any](v T) *T { return &v }

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// activityNamed finds a workspace activity by name.
func activityNamed(t *testing.T, tw interface {
	ListActivity(string, *tr.ListActivityParams) ([]tr.TaskrouterV1Activity, error)
}, ws, name string) string {
	t.Helper()
	acts, err := tw.ListActivity(ws, &tr.ListActivityParams{FriendlyName: &name})
	if err != nil || len(acts) != 1 {
		t.Fatalf("activity %s: %v %v", name, acts, err)
	}
	return *acts[0].Sid
}
