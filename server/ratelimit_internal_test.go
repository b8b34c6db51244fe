package server

import (
	"fmt"
	"testing"
)

// TestRateLimiterRoomIsBounded: buckets are kept per key, and anonymous
// callers have a key per client address, of which one host may hold
// millions (IPv6 /64s): past the limiter's room new keys share one bucket,
// and the map stops growing, while keys it holds keep their own.
func TestRateLimiterRoomIsBounded(t *testing.T) {
	r := newRateLimiter(1e-9, 1) // one call per key, no refill
	r.max = 4
	for i := range 4 {
		if !r.allow(fmt.Sprint("anonymous from 2001:db8:", i, "::")) {
			t.Fatalf("key %d, within the room, refused its first call", i)
		}
	}
	if !r.allow("anonymous from 2001:db8:4::") {
		t.Fatal("the first key past the room was refused: the shared bucket starts full")
	}
	for i := 5; i < 1000; i++ {
		if r.allow(fmt.Sprint("anonymous from 2001:db8:", i, "::")) {
			t.Fatalf("key %d past the room was allowed: it should share the emptied bucket", i)
		}
	}
	if n := len(r.buckets); n > r.max+1 {
		t.Errorf("%d buckets kept, room for %d and the shared one", n, r.max)
	}
	if r.allow("anonymous from 2001:db8:0::") {
		t.Error("a key in the room got a second call, past its burst of 1")
	}
}
