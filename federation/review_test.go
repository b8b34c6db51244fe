package federation

import (
	"crypto/ed25519"
	"strconv"
	"strings"
	"testing"
)

// Review of issue 12 (signed manifests that travel): attacks on the
// manifest format and its acceptance rules. Tests named TestReview... that
// fail on the current code are skipped with the finding they show.

// TestReviewMissedHandoverCannotCatchUp: serial 2 hands the federation key
// over (names K2, signed by K1), serial 3 is signed by K2. A node on serial
// 1 that missed serial 2 refuses serial 3 (the only manifest its peers send
// afterwards) and cannot start on it: the documented limit (THREATS.md,
// Known limits). Given serial 2 first, as the documented way out says, it
// takes serial 3.
func TestReviewMissedHandoverCannotCatchUp(t *testing.T) {
	m, k1 := signedFederation(t)
	_, k2, _ := GenerateKey()
	handover := *m
	handover.Members = append([]Member(nil), m.Members...)
	handover.Serial = 2
	handover.FederationKey = k2.Public().(ed25519.PublicKey)
	if err := handover.Sign(k1); err != nil {
		t.Fatal(err)
	}
	m3 := next(t, &handover, k2)
	live := NewLive(m, nil)
	if err := live.Offer(m3); err == nil {
		t.Fatal("a node on serial 1 took serial 3, signed by a key it was never handed")
	}
	if _, err := Newest(m, m3); err == nil {
		t.Fatal("a node that stored serial 1 started on serial 3")
	}
	if err := live.Offer(&handover); err != nil {
		t.Fatalf("the handover: %v", err)
	}
	if err := live.Offer(m3); err != nil || live.Load() != m3 {
		t.Fatalf("serial 3 after the handover: %v", err)
	}
	if _, err := Newest(&handover, m3); err != nil {
		t.Errorf("start on serial 3 after storing the handover: %v", err)
	}
}

// TestReviewNewestIgnoresAForeignFileSilently: at start, a manifest file
// whose serial is not above the stored one must still be checked: a file
// signed by a stranger's key, with the stored serial or a lower one, is
// refused, not passed over in silence while the operator believes the
// node runs on it.
func TestReviewNewestIgnoresAForeignFileSilently(t *testing.T) {
	m, fed := signedFederation(t)
	n2 := next(t, m, fed)
	_, stranger, _ := GenerateKey()
	for _, serial := range []int{1, 2} {
		foreign := *n2
		foreign.Members = append([]Member(nil), n2.Members...)
		foreign.Members[0].Address = "attacker.example:443"
		foreign.Serial = serial
		foreign.FederationKey = nil
		if err := foreign.Sign(stranger); err != nil {
			t.Fatal(err)
		}
		if got, err := Newest(n2, &foreign); err == nil {
			t.Errorf("serial %d signed by another key: started on serial %d without an error", serial, got.Serial)
		}
	}
}

// TestReviewManifestAliasBomb: a peer's Pull response may carry any bytes
// as its manifest; YAML aliases must not expand a 1 MiB document into
// gigabytes before the signature is even looked at.
func TestReviewManifestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x,x,x,x,x,x,x,x,x,x]\n")
	for i := 1; i < 12; i++ {
		b.WriteString("a" + strconv.Itoa(i) + ": &a" + strconv.Itoa(i) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(",")
			}
			b.WriteString("*a" + strconv.Itoa(i-1))
		}
		b.WriteString("]\n")
	}
	b.WriteString("serial: 1\nmembers: []\n")
	if _, err := ParseManifest([]byte(b.String())); err == nil {
		t.Fatal("an alias bomb parsed as a manifest")
	} else {
		t.Log(err)
	}
}

// TestReviewUpgradeKeepsAnUnsignedStoredManifest: a node of a provex
// before signing stored its unsigned manifest at version 3 (every start
// saved it). Its operator follows the new README, provex manifest init
// (serial 1) and sign, and restarts the node on the signed file. Newest
// must take the signed file: keeping the unsigned stored manifest would
// leave the node unable to take any manifest, restart or not.
func TestReviewUpgradeKeepsAnUnsignedStoredManifest(t *testing.T) {
	m, _ := signedFederation(t)
	legacy := *m
	legacy.Serial = 3
	legacy.FederationKey, legacy.Signature = nil, nil
	got, err := Newest(&legacy, m)
	if err == nil && got.Signature == nil {
		t.Errorf("the node starts on the unsigned stored manifest (serial %d) and ignores the operator's signed file (serial %d)", got.Serial, m.Serial)
	}
}
