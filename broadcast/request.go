package broadcast

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/audience"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/sms"
)

// Request is a broadcast as staff ask for it (the JSON body of POST /api/broadcasts).
type Request struct {
	// Text per language ("vi", "en"). At least one is required; recipients whose language has
	// no text get the other one.
	Text     map[string]string `json:"text"`
	Audience Audience          `json:"audience"`
	// SendAt, RFC 3339, schedules the broadcast; empty or past means now.
	SendAt string `json:"send_at,omitempty"`
	// By is who asked for it (a console username, "admin-token"), kept for the list and audit.
	By string `json:"-"`
}

// Audience is the JSON form of an audience filter. Empty lists select everyone.
type Audience struct {
	Communes   []string `json:"communes,omitempty"`
	Categories []string `json:"categories,omitempty"`
	Channels   []string `json:"channels,omitempty"`
	Languages  []string `json:"languages,omitempty"`
}

// Preview is what a broadcast will do: how many recipients per channel, who is left out and why,
// and the SMS exactly as it will go out with its cost in segments.
type Preview struct {
	ID          string                  `json:"id,omitempty"`
	Status      string                  `json:"status,omitempty"`
	Recipients  int                     `json:"recipients"`
	PerChannel  map[gateway.Channel]int `json:"per_channel"`
	Excluded    map[string]int          `json:"excluded"`
	SMSSegments int                     `json:"sms_segments"` // total over SMS recipients: the cost
	SMS         map[string]SMSText      `json:"sms,omitempty"`
	SendAt      *time.Time              `json:"send_at,omitempty"`
}

// SMSText is the SMS of one language as it will be sent.
type SMSText struct {
	Text       string `json:"text"`
	Segments   int    `json:"segments"`   // per message
	Recipients int    `json:"recipients"` // SMS recipients who get this language
}

// MaxTextLen is the longest text accepted (Telegram's limit is 4096 characters).
const MaxTextLen = 4000

// plan is a validated request.
type plan struct {
	filter audience.Filter
	msgs   map[string]gateway.Reply
	sms    map[string]SMSText
	sendAt time.Time
	by     string
}

// validate checks a request and builds its plan; errors wrap ErrInvalid and say what is wrong.
func (s *Service) validate(req Request) (*plan, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	texts := map[string]string{}
	for lang, t := range req.Text {
		l := i18n.Lang(lang)
		if l == "" || l != lang {
			return nil, bad("text: unknown language %q (use vi or en)", lang)
		}
		t = strings.TrimSpace(t)
		if !utf8.ValidString(t) {
			return nil, bad("text.%s: not valid UTF-8", lang)
		}
		if n := utf8.RuneCountInString(t); n > MaxTextLen {
			return nil, bad("text.%s: %d characters, at most %d", lang, n, MaxTextLen)
		}
		if t != "" {
			texts[l] = t
		}
	}
	if len(texts) == 0 {
		return nil, bad("text is empty: give text.vi and/or text.en")
	}
	p := &plan{msgs: map[string]gateway.Reply{}, sms: map[string]SMSText{}, by: req.By}
	f := &p.filter
	var unknown []string
	f.Communes, unknown = s.canonCommunes(req.Audience.Communes)
	if len(unknown) > 0 {
		return nil, bad("unknown communes: %s", strings.Join(unknown, ", "))
	}
	for _, c := range req.Audience.Categories {
		if !slices.Contains(audience.Categories, c) {
			return nil, bad("unknown category %q (one of %s)", c, strings.Join(audience.Categories, ", "))
		}
		if !slices.Contains(f.Categories, c) {
			f.Categories = append(f.Categories, c)
		}
	}
	for _, l := range req.Audience.Languages {
		if i18n.Lang(l) != l {
			return nil, bad("unknown language %q (vi or en)", l)
		}
		if !slices.Contains(f.Languages, l) {
			f.Languages = append(f.Languages, l)
		}
	}
	have := s.channels()
	for _, c := range req.Audience.Channels {
		ch := gateway.Channel(c)
		if !ch.Valid() {
			return nil, bad("unknown channel %q (telegram, sms or web)", c)
		}
		if !slices.Contains(have, ch) {
			return nil, bad("channel %q is not configured on this gateway", c)
		}
		if !slices.Contains(f.Channels, ch) {
			f.Channels = append(f.Channels, ch)
		}
	}
	if len(f.Channels) == 0 {
		f.Channels = have
	}
	if len(f.Channels) == 0 {
		return nil, bad("no channel is configured on this gateway")
	}
	if req.SendAt != "" {
		t, err := time.Parse(time.RFC3339, req.SendAt)
		if err != nil {
			return nil, bad("send_at %q is not RFC 3339 (2025-12-08T07:00:00+07:00)", req.SendAt)
		}
		if t.After(s.now().AddDate(1, 0, 0)) {
			return nil, bad("send_at is more than a year ahead")
		}
		p.sendAt = t
	}
	for _, lang := range i18n.Langs {
		t, ok := texts[lang]
		if !ok {
			for _, other := range i18n.Langs {
				if t, ok = texts[other]; ok {
					break
				}
			}
		}
		short, segs := s.smsText(t)
		p.msgs[lang] = gateway.Reply{Text: t, Short: short, Intent: KindBroadcast}
		p.sms[lang] = SMSText{Text: short, Segments: segs}
		if slices.Contains(f.Channels, gateway.SMS) && segs > s.cfg.SMSMaxSegments {
			return nil, bad("the SMS text (%s) takes %d segments, the budget is %d: shorten it", lang, segs, s.cfg.SMSMaxSegments)
		}
	}
	return p, nil
}

// smsText renders text as the SMS channel will send it (unaccented unless SMS_UNICODE) without
// cutting it to the reply budget, and counts its segments.
func (s *Service) smsText(text string) (string, int) {
	out := sms.Render([]gateway.Reply{{Text: text}}, sms.RenderOptions{MaxSegments: sms.MaxSegmentsLimit, Unicode: s.cfg.SMSUnicode})
	n, _ := sms.Segments(out)
	if n >= sms.MaxSegmentsLimit {
		// Render cut it to the limit: the real text is longer still.
		full, _ := sms.Segments(text)
		n = max(n, full)
	}
	return out, n
}

// preview counts the plan's audience and its SMS cost.
func (s *Service) preview(ctx context.Context, p *plan) (*Preview, error) {
	n, per, err := s.aud.Count(ctx, p.filter)
	if err != nil {
		return nil, err
	}
	ex, err := s.aud.Excluded(ctx, p.filter)
	if err != nil {
		return nil, err
	}
	pv := &Preview{Recipients: n, PerChannel: per, Excluded: ex, SMS: map[string]SMSText{}}
	if !p.sendAt.IsZero() {
		t := p.sendAt
		pv.SendAt = &t
	}
	if per[gateway.SMS] == 0 {
		return pv, nil
	}
	for _, lang := range i18n.Langs {
		if len(p.filter.Languages) > 0 && !slices.Contains(p.filter.Languages, lang) {
			continue
		}
		f := p.filter
		f.Channels = []gateway.Channel{gateway.SMS}
		f.Languages = []string{lang}
		k, _, err := s.aud.Count(ctx, f)
		if err != nil {
			return nil, err
		}
		st := p.sms[lang]
		st.Recipients = k
		pv.SMS[lang] = st
		pv.SMSSegments += k * st.Segments
	}
	return pv, nil
}

// Preview validates req and tells what it would do, without creating anything.
func (s *Service) Preview(ctx context.Context, req Request) (*Preview, error) {
	p, err := s.validate(req)
	if err != nil {
		return nil, err
	}
	return s.preview(ctx, p)
}
