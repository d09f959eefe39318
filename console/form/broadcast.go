package form

import (
	"net/http"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/broadcast"
	"github.com/socialaid-vn/gateway/staff"
)

// Broadcast is the announcement composer: audience (communes, categories, channels), message
// (vi, optional en) and schedule (now, or a local date and time in Vietnam).
type Broadcast struct {
	TextVi, TextEn string
	Communes       []string
	Categories     []string
	Channels       []string
	Later          bool   // when=later
	Date, Time     string // YYYY-MM-DD, HH:MM (the browser's date and time inputs)

	sendAt time.Time
}

// ParseBroadcast reads the form.
func ParseBroadcast(r *http.Request) *Broadcast {
	return &Broadcast{
		TextVi: field(r, "text_vi"), TextEn: field(r, "text_en"),
		Communes: list(r, "communes"), Categories: list(r, "categories"), Channels: list(r, "channels"),
		Later: field(r, "when") == "later", Date: field(r, "date"), Time: field(r, "time"),
	}
}

// Validate checks the form for principal p: known communes the account covers (an officer must
// name at least one), configured channels, a text, and a send time in the future within a year
// in zone. It does not count the audience or the SMS cost: the broadcast service does.
func (f *Broadcast) Validate(p *staff.Principal, communes []string, channels []gateway.Channel, zone *time.Location, now time.Time, t Translate) Errors {
	errs := Errors{}
	switch {
	case f.TextVi == "":
		errs["text_vi"] = t("compose.err.text")
	case utf8.RuneCountInString(f.TextVi) > broadcast.MaxTextLen:
		errs["text_vi"] = t("compose.err.too_long")
	}
	if utf8.RuneCountInString(f.TextEn) > broadcast.MaxTextLen {
		errs["text_en"] = t("compose.err.too_long")
	}
	for _, c := range f.Communes {
		if !slices.Contains(communes, c) {
			errs["communes"] = t("compose.err.unknown_commune")
		}
	}
	if _, bad := errs["communes"]; !bad {
		switch {
		case !p.Everywhere() && len(f.Communes) == 0:
			errs["communes"] = t("compose.err.communes")
		case !p.CoversAll(f.Communes):
			errs["communes"] = t("compose.err.communes_forbidden")
		}
	}
	if len(f.Channels) == 0 {
		errs["channels"] = t("compose.err.channels")
	}
	for _, ch := range f.Channels {
		if !slices.Contains(channels, gateway.Channel(ch)) {
			errs["channels"] = t("compose.err.channels")
		}
	}
	if f.Later {
		at, err := time.ParseInLocation("2006-01-02 15:04", f.Date+" "+f.Time, zone)
		switch {
		case err != nil:
			errs["when"] = t("compose.err.date")
		case !at.After(now):
			errs["when"] = t("compose.err.past")
		case at.After(now.AddDate(1, 0, 0)):
			errs["when"] = t("compose.err.far")
		default:
			f.sendAt = at
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// Request is the validated form as the broadcast service takes it.
func (f *Broadcast) Request(by string) broadcast.Request {
	req := broadcast.Request{
		Text:     map[string]string{"vi": f.TextVi},
		Audience: broadcast.Audience{Communes: f.Communes, Categories: f.Categories, Channels: f.Channels},
		By:       by,
	}
	if f.TextEn != "" {
		req.Text["en"] = f.TextEn
	}
	if !f.sendAt.IsZero() {
		req.SendAt = f.sendAt.Format(time.RFC3339)
	}
	return req
}
