package broadcast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/i18n"
)

// draft is a staff member's broadcast in the making (kept in Redis for draftTTL).
type draft struct {
	Text     map[string]string `json:"text"`
	Communes []string          `json:"communes"`
	Channels []string          `json:"channels"`
	AllSet   bool              `json:"all_set"` // the audience was chosen (possibly "everyone")
}

const draftTTL = time.Hour

func (s *Service) draftKey(userID int64) string {
	return s.p + "staff:" + strconv.FormatInt(userID, 10)
}

// StaffCommand runs "/broadcast ARGS" for a staff member on Telegram (the bot checks
// STAFF_TELEGRAM_IDS before calling it). The flow is compose → audience → preview → confirm, one
// step per command, with buttons carrying the next command:
//
//	/broadcast                      what to do next (or the help)
//	/broadcast vi TEXT | en TEXT    the text in Vietnamese / English
//	/broadcast to all | to A, B     the audience: every commune, or the communes named
//	/broadcast channel telegram|sms|all
//	/broadcast preview              count, per channel, the SMS as sent and its cost
//	/broadcast send                 create it (the same checks as the API)
//	/broadcast cancel               drop the draft
//	/broadcast status ID | stop ID  a broadcast's report / cancel it
//
// The draft is kept in Redis per staff member for an hour, so any replica continues the flow.
func (s *Service) StaffCommand(ctx context.Context, userID int64, args string) ([]gateway.Reply, error) {
	lang := s.staffLang()
	t := func(key string, kv ...string) string { return s.cat.T(lang, "broadcast.staff."+key, kv...) }
	one := func(text string, choices ...gateway.Choice) []gateway.Reply {
		return []gateway.Reply{{Text: text, Choices: choices, Intent: "staff_broadcast"}}
	}
	verb, rest, _ := strings.Cut(strings.TrimSpace(args), " ")
	rest = strings.TrimSpace(rest)
	d, err := s.loadDraft(ctx, userID)
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(verb) {
	case "":
		if d == nil {
			return one(t("help")), nil
		}
		return s.staffNext(ctx, d, lang)
	case "vi", "en", "text":
		l := strings.ToLower(verb)
		if l == "text" {
			l = i18n.Langs[0]
		}
		if rest == "" {
			return one(t("no_text")), nil
		}
		if d == nil {
			d = &draft{Text: map[string]string{}}
		}
		d.Text[l] = rest
		if err := s.saveDraft(ctx, userID, d); err != nil {
			return nil, err
		}
		return s.staffNext(ctx, d, lang)
	case "to":
		if d == nil {
			return one(t("no_draft")), nil
		}
		if strings.EqualFold(rest, "all") || rest == "" {
			d.Communes = nil
		} else {
			communes, unknown := s.canonCommunes(splitList(rest))
			if len(unknown) > 0 {
				return one(t("unknown_commune", "communes", strings.Join(unknown, ", "))), nil
			}
			d.Communes = communes
		}
		d.AllSet = true
		if err := s.saveDraft(ctx, userID, d); err != nil {
			return nil, err
		}
		return s.staffPreview(ctx, d, lang)
	case "channel":
		if d == nil {
			return one(t("no_draft")), nil
		}
		switch strings.ToLower(rest) {
		case "all", "":
			d.Channels = nil
		case string(gateway.Telegram), string(gateway.SMS):
			d.Channels = []string{strings.ToLower(rest)}
		default:
			return one(t("unknown_channel")), nil
		}
		if err := s.saveDraft(ctx, userID, d); err != nil {
			return nil, err
		}
		return s.staffPreview(ctx, d, lang)
	case "preview":
		if d == nil {
			return one(t("no_draft")), nil
		}
		return s.staffPreview(ctx, d, lang)
	case "send":
		if d == nil {
			return one(t("no_draft")), nil
		}
		pv, err := s.Create(ctx, d.request())
		if errors.Is(err, ErrInvalid) {
			return one(t("invalid", "reason", strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "))), nil
		}
		if err != nil {
			return nil, err
		}
		_ = s.rdb.Del(ctx, s.draftKey(userID)).Err()
		return one(t("created", "id", pv.ID, "recipients", strconv.Itoa(pv.Recipients)),
			gateway.Choice{Label: t("status_button"), Payload: "/broadcast status " + pv.ID}), nil
	case "cancel":
		_ = s.rdb.Del(ctx, s.draftKey(userID)).Err()
		return one(t("dropped")), nil
	case "status", "stop":
		if strings.EqualFold(verb, "stop") {
			switch err := s.Cancel(ctx, rest); {
			case errors.Is(err, ErrNotFound):
				return one(t("not_found", "id", rest)), nil
			case errors.Is(err, ErrFinished):
				return one(t("already_done", "id", rest)), nil
			case err != nil:
				return nil, err
			}
		}
		rep, err := s.Report(ctx, rest)
		if errors.Is(err, ErrNotFound) {
			return one(t("not_found", "id", rest)), nil
		}
		if err != nil {
			return nil, err
		}
		return one(t("report", "id", rep.ID, "status", s.cat.T(lang, "broadcast.status."+rep.Status),
			"total", strconv.Itoa(rep.Total), "sent", strconv.Itoa(rep.Sent),
			"failed", CountList(rep.Failed), "skipped", CountList(rep.Skipped), "pending", strconv.Itoa(rep.Pending)),
			gateway.Choice{Label: t("status_button"), Payload: "/broadcast status " + rep.ID}), nil
	}
	return one(t("help")), nil
}

func (s *Service) staffLang() string {
	if l := i18n.Lang(s.cfg.StaffLang); l != "" {
		return l
	}
	return i18n.Langs[0]
}

// staffNext asks for what the draft still lacks.
func (s *Service) staffNext(ctx context.Context, d *draft, lang string) ([]gateway.Reply, error) {
	if len(d.Text) == 0 {
		return []gateway.Reply{{Text: s.cat.T(lang, "broadcast.staff.help")}}, nil
	}
	if !d.AllSet {
		choices := []gateway.Choice{{Label: s.cat.T(lang, "broadcast.staff.all_communes"), Payload: "/broadcast to all"}}
		for _, c := range s.cfg.Communes {
			choices = append(choices, gateway.Choice{Label: c, Payload: "/broadcast to " + c})
		}
		return []gateway.Reply{{Text: s.cat.T(lang, "broadcast.staff.ask_audience"), Choices: choices, Intent: "staff_broadcast"}}, nil
	}
	return s.staffPreview(ctx, d, lang)
}

// staffPreview shows the audience and the SMS with its cost, with the confirm buttons.
func (s *Service) staffPreview(ctx context.Context, d *draft, lang string) ([]gateway.Reply, error) {
	t := func(key string, kv ...string) string { return s.cat.T(lang, "broadcast.staff."+key, kv...) }
	pv, err := s.Preview(ctx, d.request())
	if errors.Is(err, ErrInvalid) {
		return []gateway.Reply{{Text: t("invalid", "reason", strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "))}}, nil
	}
	if err != nil {
		return nil, err
	}
	communes := strings.Join(d.Communes, ", ")
	if communes == "" {
		communes = t("all_communes")
	}
	var b strings.Builder
	b.WriteString(t("preview", "communes", communes, "recipients", strconv.Itoa(pv.Recipients),
		"telegram", strconv.Itoa(pv.PerChannel[gateway.Telegram]), "sms", strconv.Itoa(pv.PerChannel[gateway.SMS]),
		"excluded", CountList(pv.Excluded)))
	for _, l := range i18n.Langs {
		if st, ok := pv.SMS[l]; ok && st.Recipients > 0 {
			b.WriteString("\n\n")
			b.WriteString(t("preview_sms", "lang", l, "segments", strconv.Itoa(st.Segments),
				"recipients", strconv.Itoa(st.Recipients), "text", st.Text))
		}
	}
	b.WriteString("\n\n")
	b.WriteString(t("preview_cost", "segments", strconv.Itoa(pv.SMSSegments)))
	return []gateway.Reply{{Text: b.String(), Intent: "staff_broadcast", Choices: []gateway.Choice{
		{Label: t("confirm"), Payload: "/broadcast send"},
		{Label: t("only_telegram"), Payload: "/broadcast channel telegram"},
		{Label: t("only_sms"), Payload: "/broadcast channel sms"},
		{Label: t("cancel"), Payload: "/broadcast cancel"},
	}}}, nil
}

func (d *draft) request() Request {
	return Request{Text: d.Text, Audience: Audience{Communes: d.Communes, Channels: d.Channels}}
}

func (s *Service) loadDraft(ctx context.Context, userID int64) (*draft, error) {
	raw, err := s.rdb.Get(ctx, s.draftKey(userID)).Bytes()
	if err != nil {
		if errors.Is(err, redis.Nil) {
			return nil, nil
		}
		return nil, fmt.Errorf("broadcast: staff draft: %w", err)
	}
	var d draft
	if err := json.Unmarshal(raw, &d); err != nil || d.Text == nil {
		return nil, nil // unreadable draft: start again
	}
	return &d, nil
}

func (s *Service) saveDraft(ctx context.Context, userID int64, d *draft) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if err := s.rdb.Set(ctx, s.draftKey(userID), b, draftTTL).Err(); err != nil {
		return fmt.Errorf("broadcast: staff draft: %w", err)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// CountList writes {"blocked": 2, "unsubscribed": 1} as "blocked 2, unsubscribed 1" ("0" if
// empty), the form reports use for failed and skipped counts.
func CountList(m map[string]int) string {
	if len(m) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
