package agent

import (
	"strings"
	"testing"
	"time"
)

func TestPasswordHash(t *testing.T) {
	h, err := hashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=2$") {
		t.Fatalf("hash %q is not an argon2id PHC string", h)
	}
	if !verifyPassword(h, "correct horse battery") || verifyPassword(h, "correct horse batterY") || verifyPassword(h, "") {
		t.Fatal("verify accepts the wrong password or refuses the right one")
	}
	h2, _ := hashPassword("correct horse battery")
	if h2 == h {
		t.Fatal("two hashes of one password are equal: no salt")
	}
}

func FuzzVerifyPassword(f *testing.F) {
	f.Add("$argon2id$v=19$m=16,t=1,p=1$c2FsdHNhbHQ$aGFzaA", "pw")
	f.Add("$argon2id$v=19$m=99999999,t=1,p=1$c2FsdA$aGFzaA", "pw")
	f.Add("$bcrypt$x", "")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, phc, pw string) {
		if verifyPassword(phc, pw) && !strings.HasPrefix(phc, "$argon2id$") {
			t.Fatalf("accepted a non-argon2id hash %q", phc)
		}
	})
}

func TestThrottle(t *testing.T) {
	now := time.Unix(1000, 0)
	th := newThrottle(3, time.Minute, func() time.Time { return now })
	for i := 0; i < 3; i++ {
		if th.blocked("a@x", "1.1.1.1") > 0 {
			t.Fatalf("blocked after %d failures", i)
		}
		th.fail("a@x", "1.1.1.1")
	}
	if th.blocked("a@x", "2.2.2.2") == 0 {
		t.Fatal("the email is not locked after 3 failures (from another address)")
	}
	if th.blocked("b@x", "1.1.1.1") == 0 {
		t.Fatal("the address is not locked after 3 failures (for another email)")
	}
	if th.blocked("b@x", "3.3.3.3") != 0 {
		t.Fatal("an unrelated email and address are locked")
	}
	now = now.Add(time.Minute)
	if th.blocked("a@x", "1.1.1.1") != 0 {
		t.Fatal("still locked after the window")
	}
}
