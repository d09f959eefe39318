package staff

import "testing"

// The staff API's bearer token is compared as fixed-length digests: equal tokens match, and
// neither a prefix, a longer token nor an empty configured token does.
func TestTokenEqual(t *testing.T) {
	for _, c := range []struct {
		got, want string
		ok        bool
	}{
		{"s3cret-token", "s3cret-token", true},
		{"s3cret", "s3cret-token", false},
		{"s3cret-token-and-more", "s3cret-token", false},
		{"", "s3cret-token", false},
		{"", "", false},
		{"x", "", false},
	} {
		if got := TokenEqual(c.got, c.want); got != c.ok {
			t.Errorf("TokenEqual(%q, %q) = %v", c.got, c.want, got)
		}
	}
}
