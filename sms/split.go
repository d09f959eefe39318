package sms

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	"github.com/socialaid-vn/gateway"
)

// MaxParts is the most SMS one whole message (a staff answer to a case) is split into.
const MaxParts = 10

// Split writes one reply for SMS like Render (its Short text, else its Text; unaccented GSM-7
// unless opt.Unicode) but, instead of cutting it to the budget, splits it into as many SMS as it
// needs, each within opt's segment budget and numbered "(1/3) ", "(2/3) "... at the start. A part
// ends after a sentence or line where one ends in its second half, else after a whole word. Up to
// MaxParts parts; a text longer still is cut at the end of the last one (with "...").
func Split(r gateway.Reply, opt RenderOptions) []string {
	src := r.Short
	if strings.TrimSpace(src) == "" {
		src = r.Text
	}
	text := clean(src, opt.Unicode)
	max := opt.budget()
	if text == "" {
		return nil
	}
	if fits(text, max) {
		return []string{text}
	}
	const wide = "(10/10) " // the longest label: every part leaves room for it
	var parts []string
	rest := []rune(text)
	for len(rest) > 0 && len(parts) < MaxParts {
		if fits(wide+string(rest), max) {
			parts = append(parts, string(rest))
			rest = nil
			break
		}
		// The longest prefix that fits (binary search on runes).
		lo, hi := 1, len(rest)
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if fits(wide+string(rest[:mid]), max) {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		cut := lo
		// Prefer the end of a sentence or line in the second half, else the last space.
		best := -1
		for i := lo - 1; i > lo/2; i-- {
			if rest[i] == '\n' || (rest[i] == ' ' && i > 0 && strings.ContainsRune(".!?", rest[i-1])) {
				best = i
				break
			}
		}
		if best < 0 {
			for i := lo - 1; i > 0; i-- {
				if unicode.IsSpace(rest[i]) {
					best = i
					break
				}
			}
		}
		if best > 0 && lo < len(rest) {
			cut = best
		}
		parts = append(parts, strings.TrimSpace(string(rest[:cut])))
		rest = []rune(strings.TrimLeftFunc(string(rest[cut:]), unicode.IsSpace))
	}
	if len(rest) > 0 { // over MaxParts: the last part says the text goes on
		parts[len(parts)-1] += ellipsis
	}
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = fmt.Sprintf("(%d/%d) %s", i+1, len(parts), p)
		if !fits(out[i], max) {
			out[i] = fit(out[i], max)
		}
	}
	return out
}

// sendParts sends a Whole reply as the SMS Split makes of it, in order, each part once (its key
// is m.Key + "#n", so a retry sends only the parts not yet accepted). It returns the MessageSid
// of the first part, or the first failure.
func (c *Channel) sendParts(ctx context.Context, m gateway.Outbound) (string, error) {
	parts := Split(m.Reply, c.render)
	if len(parts) == 0 {
		return "", &gateway.SendError{Kind: gateway.Final, Reason: "empty"}
	}
	first := ""
	for i, p := range parts {
		pm := m
		pm.Reply = gateway.Reply{Text: p, Intent: m.Reply.Intent, Lang: m.Reply.Lang}
		if m.Key != "" {
			pm.Key = fmt.Sprintf("%s#%d", m.Key, i+1)
		}
		sid, err := c.sendMessage(ctx, pm, p, true)
		if err != nil {
			return first, err
		}
		if i == 0 {
			first = sid
		}
	}
	return first, nil
}
