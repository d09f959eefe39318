package zalo

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/socialaid-vn/gateway"
)

// A long answer is cut into messages Zalo accepts: at most 2,000 characters, on paragraph, line
// or word boundaries, never inside a character, nothing lost.
func TestSplitKeepsWordsAndRunes(t *testing.T) {
	para := strings.Repeat("Người cao tuổi từ đủ 80 tuổi không có lương hưu được hưởng trợ cấp hằng tháng. ", 12)
	text := para + "\n\n" + para + "\n" + para
	parts := split(text, MaxText)
	if len(parts) < 2 {
		t.Fatalf("%d parts for %d characters", len(parts), units(text))
	}
	for i, p := range parts {
		if units(p) > MaxText || !utf8.ValidString(p) || p != strings.TrimSpace(p) {
			t.Errorf("part %d: %d units, valid %v, %q…", i, units(p), utf8.ValidString(p), p[:20])
		}
	}
	if strings.Join(strings.Fields(strings.Join(parts, " ")), " ") != strings.Join(strings.Fields(text), " ") {
		t.Error("the parts do not add up to the text")
	}
	// A cut between paragraphs is preferred.
	if !strings.HasSuffix(parts[0], "tháng.") {
		t.Errorf("first part ends %q", parts[0][len(parts[0])-20:])
	}

	// One endless "word" of two-byte letters and emoji is cut between characters.
	word := strings.Repeat("ằ😀", 1500)
	parts = split(word, MaxText)
	total := 0
	for _, p := range parts {
		if units(p) > MaxText || !utf8.ValidString(p) {
			t.Errorf("part of %d units, valid %v", units(p), utf8.ValidString(p))
		}
		total += len(p)
	}
	if total != len(word) {
		t.Errorf("lost %d bytes", len(word)-total)
	}
}

// Five choices or fewer are buttons under the text; up to ten, a second message carries the
// rest; more (the communes) become a numbered list, and answering "2" picks the second.
func TestChoicesAsButtonsOrNumberedList(t *testing.T) {
	h := newHarness(t, nil)
	choices := func(n int) []gateway.Choice {
		var out []gateway.Choice
		for i := 1; i <= n; i++ {
			out = append(out, gateway.Choice{Label: fmt.Sprintf("Xã %d", i), Payload: fmt.Sprintf("Xã %d", i)})
		}
		return out
	}
	msgs, numbered := h.ch.render("vi", gateway.Reply{Text: "Chọn xã", Choices: choices(5)})
	if len(msgs) != 1 || len(msgs[0].Attachment.Payload.Buttons) != 5 || numbered != nil {
		t.Errorf("5 choices: %+v", msgs)
	}
	msgs, _ = h.ch.render("en", gateway.Reply{Text: "Choose", Choices: choices(8)})
	if len(msgs) != 2 || len(msgs[1].Attachment.Payload.Buttons) != 3 || msgs[1].Text != "Or choose:" {
		t.Errorf("8 choices: %+v", msgs)
	}
	msgs, numbered = h.ch.render("vi", gateway.Reply{Text: "Chọn xã", Choices: choices(13)})
	if len(msgs) != 1 || msgs[0].Attachment != nil || len(numbered) != 13 || !strings.Contains(msgs[0].Text, "\n13. Xã 13") {
		t.Errorf("13 choices: %+v", msgs)
	}

	h.start()
	ctx := context.Background()
	const user = "4400000000000000021"
	h.text(t, user, "xã nào")
	eventually(t, "the reply", func() bool { return len(h.fake.SentTo(user)) == 1 })
	if err := h.ch.Send(ctx, gateway.Outbound{To: user, Reply: gateway.Reply{Text: "Chọn xã", Choices: choices(13)}, Priority: true}); err != nil {
		t.Fatal(err)
	}
	h.text(t, user, " 2 ")
	eventually(t, "the pick", func() bool { return len(h.core.textsOf(user)) == 2 })
	if got := h.core.textsOf(user)[1]; got != "Xã 2" {
		t.Errorf("\"2\" reached the core as %q", got)
	}
	// The answer to that had no list: a number now is just a number (an age, say).
	eventually(t, "the reply", func() bool { return len(h.fake.SentTo(user)) == 3 })
	h.text(t, user, "3")
	eventually(t, "the number", func() bool { return len(h.core.textsOf(user)) == 3 })
	if got := h.core.textsOf(user)[2]; got != "3" {
		t.Errorf("a later \"3\" reached the core as %q", got)
	}
}

// Long button labels are cut to Zalo's 100 characters.
func TestButtonLabelCut(t *testing.T) {
	h := newHarness(t, nil)
	long := strings.Repeat("Đăng ký nhận thông báo ", 10)
	msgs, _ := h.ch.render("vi", gateway.Reply{Text: "x", Choices: []gateway.Choice{{Label: long, Payload: "/subscribe"}}})
	title := msgs[0].Attachment.Payload.Buttons[0].Title
	if units(title) > maxButtonTitle || !strings.HasSuffix(title, "…") {
		t.Errorf("title %q (%d)", title, units(title))
	}
}
