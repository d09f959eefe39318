package gateway

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestMask(t *testing.T) {
	cases := map[string]string{"": "***", "123456": "***", "+84912345678": "+84*******78", "TB-2025-000123": "TB-*********23"}
	for in, want := range cases {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSendErrorVocabulary(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", &SendError{Kind: Retryable, Reason: "throttled", RetryAfter: 5 * time.Second})
	if !IsRetryable(err) {
		t.Fatal("a wrapped retryable SendError must be retryable")
	}
	if se := SendErrorOf(err); se == nil || se.RetryAfter != 5*time.Second {
		t.Fatalf("SendErrorOf = %v", se)
	}
	if IsRetryable(&SendError{Kind: Stopped}) || IsRetryable(errors.New("x")) {
		t.Fatal("stopped and plain errors are not retryable")
	}
	if got := (&SendError{Kind: Final, Reason: "bad_number"}).Error(); got != "send final: bad_number" {
		t.Fatalf("Error() = %q", got)
	}
}
