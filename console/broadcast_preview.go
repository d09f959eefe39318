package console

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/socialaid-vn/gateway/broadcast"
	"github.com/socialaid-vn/gateway/console/form"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/lookup"
)

// previewOut is the composer's live preview (JSON), with its texts ready to show.
type previewOut struct {
	Recipients int               `json:"recipients"`
	PerChannel map[string]string `json:"per_channel"` // label → count
	Excluded   int               `json:"excluded"`
	SMS        []smsOut          `json:"sms"`
	SMSTotal   string            `json:"sms_total,omitempty"`
	Cost       string            `json:"cost,omitempty"`
	Errors     form.Errors       `json:"errors,omitempty"`
	Confirm    string            `json:"confirm"`
	// Key identifies the form content this preview is for (tests wait for it).
	Key string `json:"key"`
}

type smsOut struct {
	Label    string `json:"label"`
	Text     string `json:"text"`
	Segments string `json:"segments"`
	TooLong  bool   `json:"too_long"`
}

// broadcastPreview counts the audience of the form as it stands and renders the SMS and its
// cost, without creating anything (POST /console/broadcasts/preview → JSON).
func (c *Console) broadcastPreview(w http.ResponseWriter, r *http.Request) {
	f := form.ParseBroadcast(r)
	out, status := c.preview(r, f)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(out)
}

// preview validates f and asks the broadcast service what it would do; the errors it returns
// are the form's, in the person's language.
func (c *Console) preview(r *http.Request, f *form.Broadcast) (*previewOut, int) {
	p := reqCtx(r).p
	tr := func(k string, a ...string) string { return c.T(r, k, a...) }
	out := &previewOut{PerChannel: map[string]string{}, SMS: []smsOut{}}
	out.Key = previewKey(f)
	errs := f.Validate(p, c.cfg.Communes, c.bc.Channels(), lookup.Zone(), nowFunc(), tr)
	noText := f.TextVi == ""
	if noText && errs != nil {
		// While composing, an empty text still counts the audience (the SMS waits for a text).
		delete(errs, "text_vi")
		f.TextVi = "."
		defer func() { f.TextVi = "" }()
	}
	if len(errs) > 0 {
		out.Errors = errs
		return out, http.StatusOK
	}
	pv, err := c.bc.Preview(r.Context(), f.Request(p.Username))
	if err != nil {
		if errors.Is(err, broadcast.ErrInvalid) {
			out.Errors = c.serviceError(r, err)
			return out, http.StatusOK
		}
		c.log.Error("console preview", "err", err)
		out.Errors = form.Errors{"": c.T(r, "common.error")}
		return out, http.StatusServiceUnavailable
	}
	lang := c.lang(r)
	out.Recipients = pv.Recipients
	for _, ch := range c.bc.Channels() {
		if len(f.Channels) == 0 || slices.Contains(f.Channels, string(ch)) {
			out.PerChannel[c.cat.T(lang, "console.channel."+string(ch))] = formatNum(pv.PerChannel[ch])
		}
	}
	for _, n := range pv.Excluded {
		out.Excluded += n
	}
	for _, l := range i18n.Langs {
		if noText {
			break
		}
		st, ok := pv.SMS[l]
		if !ok || st.Recipients == 0 {
			continue
		}
		out.SMS = append(out.SMS, smsOut{
			Label:    c.T(r, "compose.sms_text", "lang", l),
			Text:     st.Text,
			Segments: c.T(r, "compose.segments", "n", strconv.Itoa(st.Segments)),
			TooLong:  c.cfg.SMSMaxSegments > 0 && st.Segments > c.cfg.SMSMaxSegments,
		})
	}
	if pv.SMSSegments > 0 && !noText {
		out.SMSTotal = c.T(r, "compose.sms_total", "n", formatNum(pv.SMSSegments))
		if c.cfg.SMSPrice > 0 {
			out.Cost = c.T(r, "compose.cost", "amount", formatNum(pv.SMSSegments*c.cfg.SMSPrice))
		}
	}
	out.Confirm = c.T(r, "compose.confirm", "n", formatNum(pv.Recipients))
	return out, http.StatusOK
}

// previewKey is a short digest of the form's content.
func previewKey(f *form.Broadcast) string {
	h := sha256.Sum256([]byte(strings.Join([]string{f.TextVi, f.TextEn, strings.Join(f.Communes, ","),
		strings.Join(f.Categories, ","), strings.Join(f.Channels, ",")}, "\x00")))
	return hex.EncodeToString(h[:6])
}

// serviceError puts a refusal of the broadcast service into the form's words.
func (c *Console) serviceError(r *http.Request, err error) form.Errors {
	msg := err.Error()
	if n, ok := smsSegmentsOf(msg); ok {
		return form.Errors{"text_vi": c.T(r, "compose.err.sms_long", "n", n, "max", strconv.Itoa(c.cfg.SMSMaxSegments))}
	}
	return form.Errors{"": c.T(r, "compose.err.invalid", "reason", msg)}
}

// smsSegmentsOf finds "takes N segments" in the service's SMS budget refusal.
func smsSegmentsOf(msg string) (string, bool) {
	_, rest, ok := strings.Cut(msg, "takes ")
	if !ok || !strings.Contains(rest, "segments") {
		return "", false
	}
	n, _, _ := strings.Cut(rest, " ")
	if _, err := strconv.Atoi(n); err != nil {
		return "", false
	}
	return n, true
}
