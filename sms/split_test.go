package sms

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/socialaid-vn/gateway"
)

// A staff answer longer than the budget arrives whole, in numbered SMS within the budget, each
// unaccented GSM-7, cut after sentences or words, in order.
func TestSplitWholeText(t *testing.T) {
	sentence := "Cán bộ xã đã kiểm tra danh sách chi trả tháng 11 của Ông/Bà. "
	long := strings.Repeat(sentence, 14) // about 880 characters
	parts := Split(gateway.Reply{Text: long}, RenderOptions{MaxSegments: 2})
	if len(parts) < 3 || len(parts) > 5 {
		t.Fatalf("%d parts for %d characters", len(parts), len([]rune(long)))
	}
	var joined []string
	for i, p := range parts {
		segs, enc := Segments(p)
		if enc != GSM7 || segs > 2 {
			t.Errorf("part %d: %v, %d segments:\n%s", i+1, enc, segs, p)
		}
		label := "(" + itoa(i+1) + "/" + itoa(len(parts)) + ") "
		if !strings.HasPrefix(p, label) {
			t.Errorf("part %d does not start with %q: %q", i+1, label, p[:12])
		}
		body := strings.TrimPrefix(p, label)
		if strings.HasSuffix(body, " ") || strings.HasPrefix(body, " ") {
			t.Errorf("part %d has stray spaces", i+1)
		}
		joined = append(joined, body)
	}
	if got, want := strings.Join(joined, " "), clean(long, false); got != want {
		t.Errorf("the parts do not add up to the text:\n%s\n%s", got, want)
	}
	// A short text stays one SMS, without a label.
	if p := Split(gateway.Reply{Text: "Dạ, đã nhận."}, RenderOptions{}); len(p) != 1 || p[0] != "Da, da nhan." {
		t.Errorf("short text: %q", p)
	}
	// A text beyond MaxParts is cut in the last part, never more SMS than MaxParts.
	huge := strings.Repeat(sentence, 200)
	if p := Split(gateway.Reply{Text: huge}, RenderOptions{MaxSegments: 1}); len(p) != MaxParts || !strings.HasSuffix(p[MaxParts-1], "...") {
		t.Errorf("huge text: %d parts, last %q", len(p), p[len(p)-1])
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// Sending a Whole reply submits each part as its own SMS, in order; a retry after a failure
// sends only the parts not yet accepted.
func TestSendWholeInParts(t *testing.T) {
	f := newFixture(t, nil)
	f.tr.script = []error{nil, nil, &gateway.SendError{Kind: gateway.Final, Reason: "invalid_number"}}
	m := outbound(strings.Repeat("Cán bộ xã đã kiểm tra danh sách chi trả tháng 11 của Ông/Bà. ", 14))
	m.Reply.Whole = true
	m.Key = "pa-PA-2026-000001-3"
	_, err := f.ch.SendMessage(context.Background(), m)
	if se := gateway.SendErrorOf(err); se == nil || se.Reason != "invalid_number" {
		t.Fatalf("third part should fail: %v", err)
	}
	if n := f.tr.calls(); n != 3 {
		t.Fatalf("%d submits before the failure", n)
	}
	if _, err := f.ch.SendMessage(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	sent := f.tr.sent()
	// The retry skipped parts 1 and 2 (already accepted) and sent 3 onwards.
	if !strings.HasPrefix(sent[3].Text, "(3/") {
		t.Errorf("the retry started with %q", sent[3].Text)
	}
	last := sent[len(sent)-1].Text
	if !strings.HasPrefix(sent[0].Text, "(1/") || !strings.Contains(last, "Ong/Ba.") {
		t.Errorf("parts: first %q, last %q", sent[0].Text, last)
	}
	for i, p := range sent {
		if p.Encoding != GSM7 || p.Segments > 2 {
			t.Errorf("part %d: %v, %d segments", i+1, p.Encoding, p.Segments)
		}
	}
}
