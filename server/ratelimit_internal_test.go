package server

import (
	"fmt"
	"testing"
)

// TestRateLimiterRoomIsBounded: anonymous callers and bad credentials have
// a bucket per client address, of which one host may hold millions (IPv6
// /64s): past the room of their limiter new keys share one bucket, and the
// map stops growing, while keys it holds keep their own. (Tokens and peers
// have a limiter of their own, without a room: they are as many as were
// issued, and a flood of addresses must not push them into a shared
// bucket.)
func TestRateLimiterRoomIsBounded(t *testing.T) {
	r := newRateLimiter(1e-9, 1, 4) // one call per key, no refill
	for i := range 4 {
		if r.take(fmt.Sprint("anonymous from 2001:db8:", i, "::")) > 0 {
			t.Fatalf("key %d, within the room, refused its first call", i)
		}
	}
	if r.take("anonymous from 2001:db8:4::") > 0 {
		t.Fatal("the first key past the room was refused: the shared bucket starts full")
	}
	for i := 5; i < 1000; i++ {
		if r.take(fmt.Sprint("anonymous from 2001:db8:", i, "::")) == 0 {
			t.Fatalf("key %d past the room was allowed: it should share the emptied bucket", i)
		}
	}
	if n := len(r.buckets); n > r.max+1 {
		t.Errorf("%d buckets kept, room for %d and the shared one", n, r.max)
	}
	if r.take("anonymous from 2001:db8:0::") == 0 {
		t.Error("a key in the room got a second call, past its burst of 1")
	}
}
