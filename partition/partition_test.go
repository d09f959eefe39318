package partition

import (
	"fmt"
	"testing"
)

// The tags are part of every key's name: they must never change.
func TestTagsAreStable(t *testing.T) {
	seen := map[string]bool{}
	for p := range N {
		tag := Tag(p)
		if seen[tag] {
			t.Fatalf("tag %s twice", tag)
		}
		seen[tag] = true
		lo, hi := p*slots/N, (p+1)*slots/N
		if s := Slot("x" + tag + "y"); s < lo || s >= hi {
			t.Errorf("partition %d: tag %s in slot %d, want [%d,%d)", p, tag, s, lo, hi)
		}
	}
	if got := Tag(0) + Tag(1) + Tag(63); got != golden {
		t.Errorf("tags changed: %s, want %s", got, golden)
	}
}

const golden = "{001z}{012a}{631r}"

// Slot agrees with the examples of the Redis Cluster specification.
func TestSlot(t *testing.T) {
	for key, want := range map[string]int{"123456789": 12739, "{user1000}.following": Slot("user1000"), "foo{}{bar}": Slot("foo{}{bar}")} {
		if got := Slot(key); got != want {
			t.Errorf("Slot(%q) = %d, want %d", key, got, want)
		}
	}
	if Slot("{user1000}.following") != Slot("{user1000}.followers") {
		t.Error("hash tags not honoured")
	}
}

// Of spreads identities evenly: no partition more than 1.5× the mean over 64,000 codes.
func TestOfSpreads(t *testing.T) {
	var n [N]int
	for i := range 64000 {
		n[Of(fmt.Sprintf("TB2025%06d", i))]++
	}
	for p, c := range n {
		if c > 1500 || c < 500 {
			t.Errorf("partition %d holds %d of 64000", p, c)
		}
	}
}
