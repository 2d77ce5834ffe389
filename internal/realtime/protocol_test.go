package realtime

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestDecodeClientFrame(t *testing.T) {
	ok := []string{
		`{"v":1,"type":"auth","token":"x"}`,
		`{"v":1,"type":"subscribe","id":"1","channel_sid":"` + chanA + `","last_index":-1}`,
		`{"v":1,"type":"send","channel_sid":"` + chanA + `","body":"hi","client_message_id":"c1","future_field":true}`,
		`{"v":1,"type":"read","channel_sid":"` + chanA + `","index":0}`,
		`{"v":1,"type":"typing","channel_sid":"` + chanA + `"}`,
		`{"v":1,"type":"history","channel_sid":"` + chanA + `","before":10,"limit":100}`,
		`{"v":1,"type":"ping"}`,
	}
	for _, s := range ok {
		if _, err := DecodeClientFrame([]byte(s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	bad := map[string]string{
		`[]`:                         "not a JSON object",
		`{"v":1}`:                    "type is required",
		`{"v":3,"type":"ping"}`:      "v must be 1",
		`{"v":1,"type":"nope"}`:      "unknown type",
		`{"v":1,"type":"auth"}`:      "token is required",
		`{"v":1,"type":"subscribe"}`: "channel_sid",
		`{"v":1,"type":"subscribe","channel_sid":"CHxyz"}`:                            "channel_sid",
		`{"v":1,"type":"subscribe","channel_sid":"` + chanA + `","last_index":-2}`:    "last_index",
		`{"v":1,"type":"send","channel_sid":"` + chanA + `"}`:                         "client_message_id",
		`{"v":1,"type":"read","channel_sid":"` + chanA + `"}`:                         "index",
		`{"v":1,"type":"typing","channel_sid":"` + chanA + `","state":"maybe"}`:       "state",
		`{"v":1,"type":"history","channel_sid":"` + chanA + `","limit":1000}`:         "limit",
		`{"v":1,"type":"history","channel_sid":"` + chanA + `","before":1,"after":0}`: "not both",
		`{"v":1,"type":"read","channel_sid":"` + chanA + `","index":"7"}`:             "field index must be",
		`{"v":1,"type":"ping","id":"` + strings.Repeat("x", 65) + `"}`:                "id is longer",
	}
	for s, want := range bad {
		_, err := DecodeClientFrame([]byte(s))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error about %q", s, err, want)
		}
		if fe, ok := err.(*FrameError); !ok || fe.Err.Status != 400 {
			t.Errorf("%s: %T is not a 400 FrameError", s, err)
		}
	}
}

func TestDecodeEvent(t *testing.T) {
	raw := `{"v":1,"type":"member.updated","account_sid":"` + testAccount + `","service_sid":"` + testService +
		`","channel_sid":"` + chanA + `","data":{"identity":"guest","last_consumed_message_index":3}}`
	ev, err := DecodeEvent([]byte(raw))
	if err != nil || ev.Identity != "guest" || ev.ChannelSID != chanA || string(ev.Raw) != raw {
		t.Fatalf("%+v %v", ev, err)
	}
	for _, s := range []string{
		`{"v":1,"type":"message.added","account_sid":"AC1","channel_sid":"` + chanA + `","data":{}}`, // no index
		`{"v":2,"type":"message.added","account_sid":"AC1","index":1}`,
		`{"v":1,"type":"member.joined","account_sid":"AC1","data":[1]}`,
		`not json`,
	} {
		if _, err := DecodeEvent([]byte(s)); err == nil {
			t.Errorf("%s: accepted", s)
		}
	}
}

// FuzzDecodeClientFrame: any input is a frame or a 400 FrameError, never
// a panic; and what decodes re-encodes to something that decodes the same.
func FuzzDecodeClientFrame(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"type":"auth","token":"eyJ"}`,
		`{"v":1,"type":"send","id":"7","channel_sid":"` + chanA + `","body":"hé\u0000","client_message_id":"c"}`,
		`{"v":1,"type":"history","channel_sid":"` + chanA + `","after":-1,"limit":0}`,
		`{"v":1,"type":"typing","channel_sid":"` + chanA + `","state":"ended"}`,
		`{"v":1.5,"type":"ping"}`, `{"v":1,"type":"read","index":9223372036854775807}`, `null`, `{}`, `"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := DecodeClientFrame(data)
		if err != nil {
			fe, ok := err.(*FrameError)
			if !ok || fe.Err == nil || fe.Err.Status != 400 || fe.Err.Message == "" {
				t.Fatalf("error %T %v is not a 400 FrameError", err, err)
			}
			return
		}
		again, _ := json.Marshal(fr)
		fr2, err := DecodeClientFrame(again)
		if err != nil || fr2.Type != fr.Type || fr2.ChannelSID != fr.ChannelSID || fr2.ID != fr.ID {
			t.Fatalf("round trip of %s: %+v %v", again, fr2, err)
		}
	})
}

func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(`{"v":1,"type":"message.added","account_sid":"AC1","service_sid":"IS1","channel_sid":"CH1","index":4,"data":{"index":4}}`))
	f.Add([]byte(`{"v":1,"type":"typing.started","account_sid":"AC1","channel_sid":"CH1","data":{"identity":"a"}}`))
	f.Add([]byte(`{"v":1,"type":"reservation.created","account_sid":"AC1","worker_sid":"WK1","data":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := DecodeEvent(data)
		if err == nil && (ev.V != 1 || ev.Type == "" || (isMessageEvent(ev.Type) && ev.Index == nil)) {
			t.Fatalf("accepted an event it cannot route: %+v", ev)
		}
	})
}

func TestOutboxBounds(t *testing.T) {
	o := newOutbox(4, 1<<20)
	start, err := o.push([]byte("a"))
	if !start || err != nil {
		t.Fatalf("first push: %v %v", start, err)
	}
	for range 3 {
		if start, err := o.push([]byte("b")); start || err != nil {
			t.Fatalf("push: %v %v", start, err)
		}
	}
	if _, err := o.push([]byte("c")); err != errOutboxFull {
		t.Fatalf("fifth push: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := o.pushWait(ctx, []byte("r")); err != errOutboxFull {
		t.Fatalf("pushWait on a full queue: %v", err)
	}
	o.pop()
	o.pop()
	o.pop()
	if _, err := o.pushWait(context.Background(), []byte("r")); err != nil {
		t.Fatalf("pushWait at half: %v", err)
	}
	for {
		if _, ok := o.pop(); !ok {
			break
		}
	}
	if start, _ := o.push([]byte("d")); !start {
		t.Fatal("a push after the writer stopped must start one")
	}
	big := newOutbox(100, 10)
	big.push([]byte("0123456789"))
	if _, err := big.push([]byte("x")); err != errOutboxFull {
		t.Fatalf("byte bound: %v", err)
	}
}

func TestLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	l := newLimiter(2, 2, func() time.Time { return now })
	for i, want := range []bool{true, true, false} {
		if ok, _ := l.allow("k"); ok != want {
			t.Fatalf("take %d: %v", i, ok)
		}
	}
	_, wait := l.allow("k")
	if wait <= 0 || wait > time.Second {
		t.Fatalf("retry after %v", wait)
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _ := l.allow("k"); !ok {
		t.Fatal("refilled token refused")
	}
	if ok, _ := l.allow("other"); !ok {
		t.Fatal("another key limited")
	}
	for i := range sweepAt + 10 {
		l.allow(string(rune(i)))
	}
	if len(l.buckets) < sweepAt {
		t.Fatalf("buckets in use were swept: %d left", len(l.buckets))
	}
	now = now.Add(time.Hour)
	l.allow("new") // a new key on a full map sweeps the refilled buckets
	if len(l.buckets) > 1 {
		t.Fatalf("idle buckets not swept: %d", len(l.buckets))
	}
}

func BenchmarkDecodeClientFrame(b *testing.B) {
	frame := []byte(`{"v":1,"type":"send","id":"42","channel_sid":"` + chanA + `","body":"Hello, I would like to know where my order is.","client_message_id":"c-8d1f"}`)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeClientFrame(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeEvent(b *testing.B) {
	ev := []byte(`{"v":1,"type":"message.added","account_sid":"` + testAccount + `","service_sid":"` + testService + `","channel_sid":"` + chanA +
		`","index":42,"data":{"sid":"IM00000000000000000000000000000001","index":42,"body":"Hello, I would like to know where my order is.","from":"guest","attributes":"{}"}}`)
	b.SetBytes(int64(len(ev)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeEvent(ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeReply(b *testing.B) {
	msg := json.RawMessage(`{"sid":"IM00000000000000000000000000000001","index":42,"body":"Hello","from":"guest","attributes":"{}"}`)
	b.ReportAllocs()
	for b.Loop() {
		encodeReply("42", sendReply{ChannelSID: chanA, Index: 42, Message: msg})
	}
}
