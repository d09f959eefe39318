package zalo

import (
	"strconv"
	"strings"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/i18n"
)

// Preview renders replies as a Zalo user sees them, for `gateway chat --channel zalo`: each
// message's text (cut as Zalo's 2,000-character limit cuts it) and its buttons as "[#N] title".
// picks holds the payloads "#N" picks, in order; numbered those of a numbered list (long choices,
// the communes), which a bare number picks as it does on Zalo.
func Preview(cat *i18n.Catalog, lang string, rs []gateway.Reply) (text string, picks, numbered []string) {
	c := &Channel{cat: cat}
	var b strings.Builder
	for _, r := range rs {
		msgs, nums := c.render(lang, r)
		numbered = append(numbered, nums...)
		for _, m := range msgs {
			if b.Len() > 0 {
				b.WriteString("\n·\n") // one Zalo message ends, another begins
			}
			b.WriteString(m.Text)
			if m.Attachment == nil {
				continue
			}
			for _, bt := range m.Attachment.Payload.Buttons {
				picks = append(picks, bt.Payload)
				b.WriteString("\n  [#" + strconv.Itoa(len(picks)) + "] " + bt.Title)
			}
		}
	}
	return b.String(), picks, numbered
}
