package bot

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/metrics"
	"github.com/socialaid-vn/gateway/throttle"
)

const (
	// maxText is Telegram's limit of one message, in UTF-16 code units of the visible text.
	maxText = 4096
	// maxCallback is Telegram's limit of callback data, in bytes.
	maxCallback = 64
	// callbackTokenPrefix marks callback data that is a token for a longer payload kept in Redis.
	callbackTokenPrefix = "#cb:"
	// pairLabel is the longest button label (in characters) shown two to a row.
	pairLabel = 18
)

// Send delivers m to the Telegram chat m.To (a chat id in decimal). It is the one outbound path:
// the bot's own replies, broadcasts and notifications all go through it, so Telegram's limits
// hold across all of them and across replicas: at most Config.MPS messages per second in total
// and one per second per chat (Redis buckets "tg" and "tg:chat:<id>"); Priority messages (replies
// to citizens) keep a reserved share of the burst ahead of bulk traffic.
//
// A long text is split on line boundaries into several messages. A 429 pauses every sender of
// the bot for Telegram's retry_after and the message is retried after it; network errors before
// the request was sent and 5xx answers are retried with backoff, up to a cap. A 403 (the user
// blocked the bot or is deactivated) marks the user stopped in Stops. With m.Key set, a message
// already sent with that key is not sent again.
//
// Errors are *gateway.SendError: Retryable (throttled, network, 5xx, ctx ended before sending),
// Stopped (blocked, deactivated), Final (bad recipient, bad request) or Unknown (the request may
// have reached Telegram: a timeout after sending; not retried here, to avoid duplicates).
func (b *Bot) Send(ctx context.Context, m gateway.Outbound) error {
	if m.Channel != "" && m.Channel != gateway.Telegram {
		return b.countErr(&gateway.SendError{Kind: gateway.Final, Reason: "wrong_channel", Err: errors.New("not a Telegram message: " + string(m.Channel))})
	}
	chatID, err := strconv.ParseInt(strings.TrimSpace(m.To), 10, 64)
	if err != nil || chatID == 0 {
		return b.countErr(&gateway.SendError{Kind: gateway.Final, Reason: "invalid_recipient", Err: errors.New("recipient is not a Telegram chat id")})
	}
	lang := m.Lang
	if lang == "" && m.Reply.RequestContact { // only the contact button needs a text of ours
		lang = b.langOf(ctx, chatID, "")
	}
	return b.deliver(ctx, chatID, lang, m.Reply, m.Priority, m.Key, false)
}

// deliver renders r and sends its messages in order, stopping at the first failure.
func (b *Bot) deliver(ctx context.Context, chatID int64, lang string, r gateway.Reply, prio bool, key string, removeKeyboard bool) error {
	msgs, err := b.render(ctx, chatID, lang, r, removeKeyboard)
	if err != nil {
		return b.countErr(err)
	}
	intent := r.Intent
	if intent == "" {
		intent = "other"
	}
	for i, msg := range msgs {
		k := ""
		if key != "" {
			k = key + ":" + strconv.Itoa(i)
		}
		if err := b.sendOne(ctx, chatID, msg, prio, k); err != nil {
			return b.countErr(err)
		}
		b.incr(ctx, "sent")
	}
	return nil
}

func (b *Bot) countErr(err error) error {
	se := gateway.SendErrorOf(err)
	if se == nil {
		se = &gateway.SendError{Kind: gateway.Unknown, Reason: "internal", Err: err}
	}
	metrics.SendErrors.WithLabelValues(string(gateway.Telegram), se.Kind.String()).Inc()
	b.incr(context.WithoutCancel(context.Background()), "send_errors")
	return se
}

// sendOne sends one rendered message, waiting for the rate limits and retrying as Send says.
func (b *Bot) sendOne(ctx context.Context, chatID int64, msg tgbotapi.Chattable, prio bool, key string) error {
	if key != "" {
		done, err := b.claimSend(ctx, key)
		if err != nil || done {
			return err
		}
	}
	buckets := []throttle.Bucket{{Name: bucketChat + strconv.FormatInt(chatID, 10), Limit: b.chatLim}, b.global}
	var se *gateway.SendError
	for attempt := 0; attempt < b.maxAttempts; attempt++ {
		if err := b.lim.Wait(ctx, prio, buckets...); err != nil {
			se = &gateway.SendError{Kind: gateway.Retryable, Reason: "not_sent", Err: err}
			break
		}
		_, err := b.api(ctx, 30*time.Second).Request(msg)
		if err == nil {
			if key != "" {
				b.rdb.Set(context.WithoutCancel(ctx), keySent+key, "sent", sentTTL)
			}
			return nil
		}
		se = classify(err)
		if se.Kind == gateway.Stopped {
			b.markStopped(ctx, chatID, se.Reason)
		}
		if se.Kind != gateway.Retryable || ctx.Err() != nil {
			break
		}
		if se.RetryAfter > 0 {
			// Everyone sending for this bot waits: the pause is in Redis, and Wait honours it.
			b.log.Warn("telegram: throttled by Telegram, pausing all sends", "retry_after", se.RetryAfter)
			if perr := b.lim.Pause(ctx, bucketAll, se.RetryAfter); perr != nil {
				se = &gateway.SendError{Kind: gateway.Retryable, Reason: se.Reason, RetryAfter: se.RetryAfter, Err: errors.Join(err, perr)}
				break
			}
			continue
		}
		if attempt+1 < b.maxAttempts && !sleep(ctx, b.backoff(attempt, 0)) {
			break
		}
	}
	if key != "" && se.Kind != gateway.Unknown {
		b.rdb.Del(context.WithoutCancel(ctx), keySent+key)
	}
	return se
}

// claimSend reserves an idempotency key; done is true when the message was already sent.
func (b *Bot) claimSend(ctx context.Context, key string) (done bool, err error) {
	ok, err := b.rdb.SetNX(ctx, keySent+key, "sending", sendingTTL).Result()
	if err != nil {
		return false, &gateway.SendError{Kind: gateway.Retryable, Reason: "storage", Err: err}
	}
	if ok {
		return false, nil
	}
	v, err := b.rdb.Get(ctx, keySent+key).Result()
	if errors.Is(err, redis.Nil) {
		return b.claimSend(ctx, key) // expired between the two calls
	}
	if err != nil {
		return false, &gateway.SendError{Kind: gateway.Retryable, Reason: "storage", Err: err}
	}
	if v == "sent" {
		return true, nil
	}
	ttl, _ := b.rdb.PTTL(ctx, keySent+key).Result()
	return false, &gateway.SendError{Kind: gateway.Retryable, Reason: "in_progress", RetryAfter: max(ttl, time.Second), Err: errors.New("the same message is being sent by another worker")}
}

func (b *Bot) markStopped(ctx context.Context, chatID int64, reason string) {
	b.incr(ctx, "stopped")
	b.log.Info("telegram: user stopped", "user", maskID(chatID), "reason", reason)
	if b.stops == nil {
		return
	}
	if err := b.stops.Stop(context.WithoutCancel(ctx), gateway.Telegram, strconv.FormatInt(chatID, 10), reason); err != nil {
		b.log.Error("telegram: cannot record a stopped user", "user", maskID(chatID), "err", err)
	}
}

// classify maps any error of a Bot API call to the send-error vocabulary.
func classify(err error) *gateway.SendError {
	if se := gateway.SendErrorOf(err); se != nil {
		return se
	}
	if te := apiError(err); te != nil {
		return classifyAPI(te, err)
	}
	var st *statusError
	if errors.As(err, &st) {
		switch {
		case st.code == 429:
			return &gateway.SendError{Kind: gateway.Retryable, Reason: "throttled", RetryAfter: time.Second, Err: err}
		case st.code >= 500:
			return &gateway.SendError{Kind: gateway.Retryable, Reason: "provider_error", Err: err}
		}
		return &gateway.SendError{Kind: gateway.Final, Reason: "http_" + strconv.Itoa(st.code), Err: err}
	}
	var ns *notSentError
	if errors.As(err, &ns) {
		return &gateway.SendError{Kind: gateway.Retryable, Reason: "network", Err: err}
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return &gateway.SendError{Kind: gateway.Unknown, Reason: "timeout", Err: err}
	}
	return &gateway.SendError{Kind: gateway.Unknown, Reason: "network", Err: err}
}

func classifyAPI(te *tgbotapi.Error, err error) *gateway.SendError {
	msg := strings.ToLower(te.Message)
	kind, reason := gateway.Final, "rejected"
	var retry time.Duration
	switch {
	case te.Code == 429:
		kind, reason = gateway.Retryable, "throttled"
		retry = max(time.Duration(te.RetryAfter)*time.Second, time.Second)
	case te.Code == 403:
		kind = gateway.Stopped
		switch {
		case strings.Contains(msg, "blocked"):
			reason = "blocked"
		case strings.Contains(msg, "deactivated"):
			reason = "deactivated"
		case strings.Contains(msg, "kicked"):
			reason = "kicked"
		case strings.Contains(msg, "initiate"):
			reason = "not_started"
		default:
			reason = "forbidden"
		}
	case te.Code >= 500:
		kind, reason = gateway.Retryable, "provider_error"
	case te.Code == 401 || te.Code == 404:
		reason = "unauthorized" // a wrong token answers 401 or 404
	case te.Code == 409:
		reason = "conflict"
	case te.MigrateToChatID != 0:
		reason = "migrated"
	case strings.Contains(msg, "chat not found"):
		reason = "chat_not_found"
	case te.Code == 400:
		reason = "bad_request"
	}
	return &gateway.SendError{Kind: kind, Reason: reason, RetryAfter: retry, Err: err}
}

// render turns a reply into Telegram messages for chatID: the text as HTML split at 4,096
// characters on line boundaries, the choices as an inline keyboard under the last part, and a
// one-time "share my phone number" keyboard when the reply asks for the contact (on a message of
// its own when the reply already has buttons). removeKeyboard hides a contact keyboard left from
// before on the first message that carries no other keyboard.
func (b *Bot) render(ctx context.Context, chatID int64, lang string, r gateway.Reply, removeKeyboard bool) ([]tgbotapi.Chattable, error) {
	text := strings.TrimSpace(strings.ReplaceAll(r.Text, "\r\n", "\n"))
	if text == "" {
		text = strings.TrimSpace(r.Short)
	}
	if text == "" {
		return nil, &gateway.SendError{Kind: gateway.Final, Reason: "empty", Err: errors.New("reply has no text")}
	}
	parts := split(text, maxText)
	var out []tgbotapi.MessageConfig
	for i, p := range parts {
		m := tgbotapi.NewMessage(chatID, toHTML(p, i == 0 && strings.Contains(text, "\n")))
		m.ParseMode = tgbotapi.ModeHTML
		m.DisableWebPagePreview = true
		out = append(out, m)
	}
	last := &out[len(out)-1]
	if len(r.Choices) > 0 {
		kb, err := b.keyboard(ctx, r.Choices)
		if err != nil {
			return nil, err
		}
		last.ReplyMarkup = kb
	}
	if r.RequestContact {
		kb := tgbotapi.NewOneTimeReplyKeyboard(tgbotapi.NewKeyboardButtonRow(tgbotapi.NewKeyboardButtonContact(b.cat.T(lang, "telegram.contact.button"))))
		kb.ResizeKeyboard = true
		if last.ReplyMarkup == nil {
			last.ReplyMarkup = kb
		} else {
			m := tgbotapi.NewMessage(chatID, html.EscapeString(b.cat.T(lang, "telegram.contact.prompt")))
			m.ParseMode = tgbotapi.ModeHTML
			m.ReplyMarkup = kb
			out = append(out, m)
		}
		removeKeyboard = false
	}
	if removeKeyboard {
		for i := range out {
			if out[i].ReplyMarkup == nil {
				out[i].ReplyMarkup = tgbotapi.NewRemoveKeyboard(false)
				break
			}
		}
	}
	res := make([]tgbotapi.Chattable, len(out))
	for i := range out {
		res[i] = out[i]
	}
	return res, nil
}

// keyboard lays choices out as inline buttons, two to a row when both labels are short.
func (b *Bot) keyboard(ctx context.Context, choices []gateway.Choice) (tgbotapi.InlineKeyboardMarkup, error) {
	var rows [][]tgbotapi.InlineKeyboardButton
	short := func(c gateway.Choice) bool { return utf8.RuneCountInString(c.Label) <= pairLabel }
	for i := 0; i < len(choices); i++ {
		btn, err := b.button(ctx, choices[i])
		if err != nil {
			return tgbotapi.InlineKeyboardMarkup{}, err
		}
		row := []tgbotapi.InlineKeyboardButton{btn}
		if i+1 < len(choices) && short(choices[i]) && short(choices[i+1]) {
			next, err := b.button(ctx, choices[i+1])
			if err != nil {
				return tgbotapi.InlineKeyboardMarkup{}, err
			}
			row = append(row, next)
			i++
		}
		rows = append(rows, row)
	}
	return tgbotapi.NewInlineKeyboardMarkup(rows...), nil
}

func (b *Bot) button(ctx context.Context, c gateway.Choice) (tgbotapi.InlineKeyboardButton, error) {
	label := strings.TrimSpace(c.Label)
	if label == "" {
		label = c.Payload
	}
	data, err := b.callbackData(ctx, c.Payload)
	if err != nil {
		return tgbotapi.InlineKeyboardButton{}, err
	}
	return tgbotapi.NewInlineKeyboardButtonData(label, data), nil
}

// callbackData returns payload itself when it fits Telegram's 64 bytes, else a token (the same
// for the same payload) whose payload is kept in Redis for 90 days.
func (b *Bot) callbackData(ctx context.Context, payload string) (string, error) {
	if len(payload) <= maxCallback && !strings.HasPrefix(payload, callbackTokenPrefix) && payload != "" {
		return payload, nil
	}
	sum := sha256.Sum256([]byte(payload))
	token := base64.RawURLEncoding.EncodeToString(sum[:18])
	if err := b.rdb.Set(ctx, keyCallback+token, payload, callbackTTL).Err(); err != nil {
		return "", &gateway.SendError{Kind: gateway.Retryable, Reason: "storage", Err: err}
	}
	return callbackTokenPrefix + token, nil
}

// payloadOf resolves callback data back to the choice's payload; ok is false for an expired token.
func (b *Bot) payloadOf(ctx context.Context, data string) (payload string, ok bool, err error) {
	token, isToken := strings.CutPrefix(data, callbackTokenPrefix)
	if !isToken {
		return data, true, nil
	}
	v, err := b.rdb.Get(ctx, keyCallback+token).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return v, true, nil
}

// toHTML escapes text for parse_mode HTML, in bold the first line when asked.
func toHTML(text string, boldFirst bool) string {
	if !boldFirst {
		return html.EscapeString(text)
	}
	first, rest, _ := strings.Cut(text, "\n")
	if strings.TrimSpace(first) == "" {
		return html.EscapeString(text)
	}
	out := "<b>" + html.EscapeString(first) + "</b>"
	if rest != "" {
		out += "\n" + html.EscapeString(rest)
	}
	return out
}

// split cuts text into parts of at most limit UTF-16 code units (how Telegram counts), at line
// boundaries; a line longer than limit is cut at the last space that fits, or between characters.
// Blank lines at the cut are dropped.
func split(text string, limit int) []string {
	if u16len(text) <= limit {
		return []string{text}
	}
	var parts []string
	var cur strings.Builder
	curLen := 0
	flush := func() {
		if s := strings.Trim(cur.String(), "\n"); strings.TrimSpace(s) != "" {
			parts = append(parts, s)
		}
		cur.Reset()
		curLen = 0
	}
	for _, line := range strings.Split(text, "\n") {
		n := u16len(line)
		sep := 0
		if curLen > 0 {
			sep = 1
		}
		if curLen+sep+n <= limit {
			if sep == 1 {
				cur.WriteByte('\n')
			}
			cur.WriteString(line)
			curLen += sep + n
			continue
		}
		flush()
		for u16len(line) > limit {
			head, tail := cutAt(line, limit)
			parts = append(parts, head)
			line = tail
		}
		cur.WriteString(line)
		curLen = u16len(line)
	}
	flush()
	return parts
}

// cutAt splits a line so the head has at most limit UTF-16 units, preferring the last space.
func cutAt(line string, limit int) (head, tail string) {
	n, end, lastSpace := 0, 0, -1
	for i := 0; i < len(line); {
		r, size := utf8.DecodeRuneInString(line[i:])
		w := 1
		if r >= 0x10000 {
			w = 2
		}
		if n+w > limit {
			break
		}
		n += w
		if r == ' ' {
			lastSpace = i
		}
		i += size
		end = i
	}
	if lastSpace > 0 {
		return line[:lastSpace], strings.TrimLeft(line[lastSpace:], " ")
	}
	return line[:end], line[end:]
}

func u16len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}
