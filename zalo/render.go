package zalo

import (
	"strconv"
	"strings"

	"github.com/socialaid-vn/gateway"
)

// Zalo's limits on a customer-service message as this renderer keeps them: a text of at most
// 2,000 characters; buttons (oa.query.hide: pressing one sends its payload back as the user's
// text without showing it) at most 5 to a message, a title of at most 100 characters and a
// payload of at most 1,000.
const (
	MaxText          = 2000
	maxButtons       = 5
	maxButtonTitle   = 100
	maxButtonPayload = 1000
	// maxButtonChoices is the most choices shown as buttons (two messages); longer lists (the
	// communes) become a numbered list the person answers with a number or the name.
	maxButtonChoices = 2 * maxButtons
)

// message is the "message" object of a cs request.
type message struct {
	Text       string      `json:"text,omitempty"`
	Attachment *attachment `json:"attachment,omitempty"`
}

type attachment struct {
	Type    string            `json:"type"`
	Payload attachmentPayload `json:"payload"`
}

type attachmentPayload struct {
	Buttons []button `json:"buttons,omitempty"`
}

type button struct {
	Title   string `json:"title"`
	Type    string `json:"type"`
	Payload string `json:"payload"`
}

// render turns a reply into Zalo messages: the text (plain; Zalo shows no markup) cut into parts
// of at most MaxText characters on line, then word boundaries, the choices as buttons under the
// last part (a second message with the rest when there are more than five), or as a numbered
// list when there are more than ten. numbered holds the payloads of that list, in order.
func (c *Channel) render(lang string, r gateway.Reply) (msgs []message, numbered []string) {
	text := strings.TrimSpace(strings.ReplaceAll(r.Text, "\r\n", "\n"))
	if text == "" {
		text = strings.TrimSpace(r.Short)
	}
	choices := r.Choices
	useButtons := len(choices) > 0 && len(choices) <= maxButtonChoices
	for _, ch := range choices {
		if len(ch.Payload) > maxButtonPayload || strings.TrimSpace(ch.Payload) == "" {
			useButtons = false
		}
	}
	if len(choices) > 0 && !useButtons {
		var b strings.Builder
		b.WriteString(c.cat.T(lang, "zalo.choose.text"))
		for i, ch := range choices {
			b.WriteString("\n" + strconv.Itoa(i+1) + ". " + label(ch))
			numbered = append(numbered, ch.Payload)
		}
		if text != "" {
			text += "\n\n"
		}
		text += b.String()
	}
	if text == "" {
		return nil, nil
	}
	for _, p := range split(text, MaxText) {
		msgs = append(msgs, message{Text: p})
	}
	if useButtons {
		first := choices[:min(len(choices), maxButtons)]
		msgs[len(msgs)-1].Attachment = buttons(first)
		if rest := choices[len(first):]; len(rest) > 0 {
			msgs = append(msgs, message{Text: c.cat.T(lang, "zalo.more.text"), Attachment: buttons(rest)})
		}
	}
	return msgs, numbered
}

func label(ch gateway.Choice) string {
	l := strings.TrimSpace(ch.Label)
	if l == "" {
		l = ch.Payload
	}
	return l
}

func buttons(choices []gateway.Choice) *attachment {
	a := &attachment{Type: "template"}
	for _, ch := range choices {
		a.Payload.Buttons = append(a.Payload.Buttons, button{Title: cut(label(ch), maxButtonTitle), Type: "oa.query.hide", Payload: ch.Payload})
	}
	return a
}

// units counts characters as Zalo's clients do in the worst case (UTF-16 code units: an emoji
// outside the BMP counts twice).
func units(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

// cut shortens s to at most limit units, on a rune boundary, marking the cut with "…".
func cut(s string, limit int) string {
	if units(s) <= limit {
		return s
	}
	head, _ := headOf(s, limit-1)
	return strings.TrimRight(head, " ") + "…"
}

// headOf returns the longest prefix of s of at most limit units (whole runes), and the rest.
func headOf(s string, limit int) (head, rest string) {
	n := 0
	for i, r := range s {
		w := 1
		if r >= 0x10000 {
			w = 2
		}
		if n+w > limit {
			return s[:i], s[i:]
		}
		n += w
	}
	return s, ""
}

// split cuts text into parts of at most limit units. It prefers to cut between paragraphs, then
// between lines, then after a space; only a word longer than a whole part is cut between two
// characters — never inside one (text is valid UTF-8 from the JSON decoder). Whitespace at a
// cut is dropped.
func split(text string, limit int) []string {
	var parts []string
	for units(text) > limit {
		head, _ := headOf(text, limit)
		at := -1
		for _, sep := range []string{"\n\n", "\n", " "} {
			if i := strings.LastIndex(head, sep); i > 0 {
				at = i
				break
			}
		}
		if at <= 0 || strings.TrimSpace(head[:at]) == "" {
			at = len(head)
		}
		if p := strings.TrimRight(text[:at], " \n"); p != "" {
			parts = append(parts, p)
		}
		text = strings.TrimLeft(text[at:], " \n")
	}
	if text = strings.TrimRight(text, " \n"); strings.TrimSpace(text) != "" {
		parts = append(parts, text)
	}
	return parts
}
