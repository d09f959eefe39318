package bot

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/socialaid-vn/gateway"
)

func TestSplit(t *testing.T) {
	line := strings.Repeat("ư", 99) // 99 characters, 198 bytes
	lines := make([]string, 100)
	for i := range lines {
		lines[i] = line
	}
	long := strings.Join(lines, "\n") // 100*99 + 99 = 9,999 characters
	parts := split(long, maxText)
	if len(parts) != 3 {
		t.Fatalf("%d parts", len(parts))
	}
	if strings.Join(parts, "\n") != long {
		t.Error("splitting on line boundaries must lose nothing")
	}
	for _, p := range parts {
		if n := u16len(p); n > maxText {
			t.Errorf("part of %d units", n)
		}
		if !utf8.ValidString(p) {
			t.Error("part cut inside a character")
		}
	}

	// One line longer than the limit: cut at a space.
	words := strings.TrimSpace(strings.Repeat("trợ cấp ", 1200))
	parts = split(words, maxText)
	if len(parts) != 3 || strings.HasSuffix(parts[0], " ") || strings.HasPrefix(parts[1], " ") || strings.HasSuffix(parts[0], "tr") {
		t.Errorf("word cut badly: %d parts, %q...", len(parts), parts[0][len(parts[0])-10:])
	}
	// No space at all, with astral characters counted as two units.
	emoji := strings.Repeat("😀", 3000)
	parts = split(emoji, maxText)
	if len(parts) != 2 || u16len(parts[0]) != 4096 || parts[0]+parts[1] != emoji {
		t.Errorf("hard cut: %d parts, first %d units", len(parts), u16len(parts[0]))
	}
	if got := split("ngắn", maxText); len(got) != 1 || got[0] != "ngắn" {
		t.Errorf("short text %q", got)
	}
}

func TestToHTML(t *testing.T) {
	cases := []struct {
		in   string
		bold bool
		want string
	}{
		{"a < b & c > d", false, "a &lt; b &amp; c &gt; d"},
		{"Tiêu đề <x>\nnội dung \"y\"", true, "<b>Tiêu đề &lt;x&gt;</b>\nnội dung &#34;y&#34;"},
		{"\nkhông tiêu đề", true, "\nkhông tiêu đề"},
	}
	for _, c := range cases {
		if got := toHTML(c.in, c.bold); got != c.want {
			t.Errorf("toHTML(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestRenderLongReplyKeepsKeyboardOnLastPart(t *testing.T) {
	h := newHarness(t, nil)
	text := strings.Repeat("Dòng thông tin về trợ cấp xã hội hằng tháng.\n", 200)
	msgs, err := h.bot.render(context.Background(), 5, "vi", gateway.Reply{Text: text, Choices: []gateway.Choice{{Label: "Menu", Payload: "/menu"}}, RequestContact: true}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 4 { // 3 parts + the contact prompt
		t.Fatalf("%d messages", len(msgs))
	}
	for i, m := range msgs {
		mc := m.(tgbotapi.MessageConfig)
		switch kb := mc.ReplyMarkup.(type) {
		case nil:
			if i >= 2 {
				t.Errorf("message %d has no keyboard", i)
			}
		case tgbotapi.InlineKeyboardMarkup:
			if i != 2 {
				t.Errorf("inline keyboard on message %d", i)
			}
		case tgbotapi.ReplyKeyboardMarkup:
			if i != 3 || !kb.Keyboard[0][0].RequestContact {
				t.Errorf("contact keyboard on message %d", i)
			}
		}
	}
}

func TestClassify(t *testing.T) {
	api := func(code int, msg string, retry int) error {
		return fmt.Errorf("wrapped: %w", &tgbotapi.Error{Code: code, Message: msg, ResponseParameters: tgbotapi.ResponseParameters{RetryAfter: retry}})
	}
	cases := []struct {
		name   string
		err    error
		kind   gateway.SendErrorKind
		reason string
	}{
		{"429", api(429, "Too Many Requests: retry after 5", 5), gateway.Retryable, "throttled"},
		{"blocked", api(403, "Forbidden: bot was blocked by the user", 0), gateway.Stopped, "blocked"},
		{"deactivated", api(403, "Forbidden: user is deactivated", 0), gateway.Stopped, "deactivated"},
		{"never started", api(403, "Forbidden: bot can't initiate conversation with a user", 0), gateway.Stopped, "not_started"},
		{"chat not found", api(400, "Bad Request: chat not found", 0), gateway.Final, "chat_not_found"},
		{"bad html", api(400, "Bad Request: can't parse entities", 0), gateway.Final, "bad_request"},
		{"telegram 500", api(500, "Internal Server Error", 0), gateway.Retryable, "provider_error"},
		{"bad token", api(401, "Unauthorized", 0), gateway.Final, "unauthorized"},
		{"proxy 502", &statusError{code: 502}, gateway.Retryable, "provider_error"},
		{"proxy 429", &statusError{code: 429}, gateway.Retryable, "throttled"},
		{"proxy 403", &statusError{code: 403}, gateway.Final, "http_403"},
		{"refused", &notSentError{err: &net.OpError{Op: "dial", Err: errors.New("refused")}}, gateway.Retryable, "network"},
		{"timeout after sending", context.DeadlineExceeded, gateway.Unknown, "timeout"},
		{"reset after sending", errors.New("connection reset by peer"), gateway.Unknown, "network"},
	}
	for _, c := range cases {
		se := classify(c.err)
		if se.Kind != c.kind || se.Reason != c.reason {
			t.Errorf("%s: got %s/%s, want %s/%s", c.name, se.Kind, se.Reason, c.kind, c.reason)
		}
	}
	if se := classify(api(429, "", 5)); se.RetryAfter.Seconds() != 5 {
		t.Errorf("retry_after %v", se.RetryAfter)
	}
}

func TestMaskID(t *testing.T) {
	for in, want := range map[int64]string{123456789: "12*****89", 42: "****", -100123456: "-1******56"} {
		if got := maskID(in); got != want {
			t.Errorf("maskID(%d) = %q, want %q", in, got, want)
		}
	}
}
