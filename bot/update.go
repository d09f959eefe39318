package bot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/redisconn"
)

// errInterrupted means an update was cut short by shutdown: it is neither marked handled nor
// acknowledged, so it is handled again after the restart.
var errInterrupted = errors.New("telegram: update interrupted by shutdown")

// instance identifies this process in update claims.
var instance = func() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}()

// handleUpdate handles one update at most once across restarts and replicas, in order with the
// other updates of the same chat. It returns an error only when the update was not handled and
// must be delivered again (Redis unavailable, shutdown mid-update).
func (b *Bot) handleUpdate(ctx context.Context, u tgbotapi.Update) error {
	chat := chatOf(u)
	lk := &b.locks[uint64(chat)%uint64(len(b.locks))]
	lk.Lock()
	defer lk.Unlock()

	start := time.Now()
	fresh, err := b.claim(ctx, u.UpdateID)
	degraded := false
	if err != nil {
		if !redisconn.Unavailable(err) {
			return fmt.Errorf("telegram: claim update %d: %w", u.UpdateID, err)
		}
		// Redis is gone: the core answers from memory (degraded) and the update is not
		// deduplicated meanwhile (Telegram does not send an acknowledged update again).
		fresh, degraded = true, true
	}
	if !fresh {
		b.log.Debug("telegram: duplicate update skipped", "update_id", u.UpdateID)
		return nil
	}
	kind, intent, err := b.route(ctx, u)
	if err == nil && ctx.Err() != nil {
		err = errInterrupted
	}
	key := keyUpdate + strconv.Itoa(u.UpdateID)
	bg := context.WithoutCancel(ctx)
	if err != nil {
		b.rdb.Del(bg, key)
		return err
	}
	if degraded {
		b.log.Info("telegram update", "update_id", u.UpdateID, "kind", kind, "user", maskID(chat), "intent", intent,
			"ms", time.Since(start).Milliseconds(), "degraded", true)
		return nil
	}
	if err := b.rdb.Set(bg, key, "done", updateTTL).Err(); err != nil {
		b.log.Error("telegram: cannot record a handled update; it may be answered twice", "update_id", u.UpdateID, "err", err)
	}
	b.incr(bg, "updates")
	b.log.Info("telegram update", "update_id", u.UpdateID, "kind", kind, "user", maskID(chat), "intent", intent,
		"ms", time.Since(start).Milliseconds())
	return nil
}

// claim reserves an update for this process. It reports false for an update already handled, or
// being handled by another replica (webhook mode). In polling mode — one replica — a claim left by
// an earlier process that died mid-update is taken over, so the update is handled once more.
func (b *Bot) claim(ctx context.Context, id int) (bool, error) {
	key := keyUpdate + strconv.Itoa(id)
	ok, err := b.rdb.SetNX(ctx, key, instance, claimTTL).Result()
	if err != nil || ok {
		return ok, err
	}
	v, err := b.rdb.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return b.claim(ctx, id)
	}
	if err != nil {
		return false, err
	}
	if v == "done" || v == instance || b.cfg.WebhookURL != "" {
		return false, nil
	}
	b.log.Warn("telegram: taking over an update left unfinished by an earlier process", "update_id", id)
	return true, b.rdb.Set(ctx, key, instance, claimTTL).Err()
}

// chatOf is the chat an update belongs to (0 when none), for ordering and logs.
func chatOf(u tgbotapi.Update) int64 {
	switch {
	case u.Message != nil:
		return u.Message.Chat.ID
	case u.CallbackQuery != nil && u.CallbackQuery.Message != nil:
		return u.CallbackQuery.Message.Chat.ID
	case u.CallbackQuery != nil && u.CallbackQuery.From != nil:
		return u.CallbackQuery.From.ID
	case u.MyChatMember != nil:
		return u.MyChatMember.Chat.ID
	}
	return 0
}

// route dispatches an update by kind; it returns the kind and the understood intent for the log.
func (b *Bot) route(ctx context.Context, u tgbotapi.Update) (kind, intent string, err error) {
	switch {
	case u.Message != nil:
		intent, err = b.onMessage(ctx, u.UpdateID, u.Message)
		return "message", intent, err
	case u.CallbackQuery != nil:
		intent, err = b.onCallback(ctx, u.UpdateID, u.CallbackQuery)
		return "callback", intent, err
	case u.MyChatMember != nil:
		return "membership", b.onMembership(ctx, u.MyChatMember), nil
	}
	return "other", "", nil
}

// onMessage answers a message in a private chat: a command, text, or a shared contact.
func (b *Bot) onMessage(ctx context.Context, updateID int, m *tgbotapi.Message) (string, error) {
	if m.From == nil || m.From.IsBot {
		return "", nil
	}
	hint := i18n.Lang(m.From.LanguageCode)
	chatID := m.Chat.ID
	if !m.Chat.IsPrivate() {
		if m.IsCommand() {
			lang := b.langOf(ctx, m.From.ID, hint)
			b.reply(ctx, chatID, lang, []gateway.Reply{{Text: b.cat.T(lang, "telegram.private_only.text")}}, false)
			return "private_only", nil
		}
		return "", nil
	}
	in := b.inbound(updateID, m.From, hint)
	if m.Date > 0 {
		in.Received = time.Unix(int64(m.Date), 0)
	}
	text := m.Text
	if text == "" {
		text = m.Caption
	}
	switch {
	case m.Contact != nil:
		in.Contact = &gateway.Contact{Phone: m.Contact.PhoneNumber, Own: m.Contact.UserID != 0 && m.Contact.UserID == m.From.ID}
	case m.ReplyToMessage != nil && text != "" && !m.IsCommand() && b.staff[m.From.ID] && b.replyHook() != nil &&
		m.ReplyToMessage.From != nil && m.ReplyToMessage.From.IsBot:
		// A staff member replying to one of the bot's messages (a case): the hook answers.
		replies, handled, err := b.replyHook()(ctx, m.From.ID, m.ReplyToMessage.Text, text)
		if handled || err != nil {
			lang := b.langOf(ctx, m.From.ID, hint)
			if err != nil {
				b.log.Warn("telegram: staff reply failed", "staff", maskID(m.From.ID), "err", err)
				replies = []gateway.Reply{{Text: b.cat.T(lang, "telegram.staff.failed", "error", err.Error())}}
			}
			b.reply(ctx, chatID, lang, replies, false)
			return "staff_reply", nil
		}
	case m.IsCommand():
		cmd := strings.ToLower(m.Command()) // Command drops a "@BotName" suffix
		args := strings.TrimSpace(m.CommandArguments())
		if fn := b.staffCommand(m.From.ID, cmd); fn != nil {
			return "staff_" + cmd, b.runStaff(ctx, chatID, m.From.ID, hint, fn, args)
		}
		text = "/" + cmd
		if args != "" {
			text += " " + args
		}
	case strings.TrimSpace(text) == "":
		lang := b.langOf(ctx, m.From.ID, hint)
		b.reply(ctx, chatID, lang, []gateway.Reply{{Text: b.cat.T(lang, "telegram.unsupported.text")}}, false)
		return "unsupported", nil
	}
	in.Text = text
	return b.converse(ctx, chatID, in, m.Contact != nil)
}

// onCallback handles a button press: the callback is always answered (even when the core fails),
// then the replies are sent.
func (b *Bot) onCallback(ctx context.Context, updateID int, cq *tgbotapi.CallbackQuery) (string, error) {
	if cq.From == nil {
		b.answerCallback(ctx, cq.ID, "")
		return "", nil
	}
	hint := i18n.Lang(cq.From.LanguageCode)
	chatID := cq.From.ID
	if cq.Message != nil {
		chatID = cq.Message.Chat.ID
		if !cq.Message.Chat.IsPrivate() {
			b.answerCallback(ctx, cq.ID, b.cat.T(b.langOf(ctx, cq.From.ID, hint), "telegram.private_only.text"))
			return "private_only", nil
		}
	}
	payload, ok, err := b.payloadOf(ctx, cq.Data)
	if err != nil {
		b.answerCallback(ctx, cq.ID, "")
		return "", err
	}
	notice := ""
	if !ok || strings.TrimSpace(payload) == "" {
		notice = b.cat.T(b.langOf(ctx, cq.From.ID, hint), "telegram.callback.expired")
		payload = "/menu"
	}
	if strings.HasPrefix(payload, "/") {
		name, args, _ := strings.Cut(payload[1:], " ")
		if fn := b.staffCommand(cq.From.ID, strings.ToLower(name)); fn != nil {
			// A staff button (take a case, confirm a broadcast): the staff command answers it.
			b.answerCallback(ctx, cq.ID, notice)
			return "staff_" + strings.ToLower(name), b.runStaff(ctx, chatID, cq.From.ID, hint, fn, strings.TrimSpace(args))
		}
	}
	in := b.inbound(updateID, cq.From, hint)
	in.Text = payload
	replies, intent, lang := b.ask(ctx, in)
	b.answerCallback(ctx, cq.ID, notice)
	b.reply(ctx, chatID, lang, replies, false)
	return intent, nil
}

// onMembership notices the user blocking the bot (status "kicked" in the private chat), so
// broadcasts skip them before a send fails.
func (b *Bot) onMembership(ctx context.Context, u *tgbotapi.ChatMemberUpdated) string {
	if !u.Chat.IsPrivate() {
		return ""
	}
	switch u.NewChatMember.Status {
	case "kicked":
		b.markStopped(ctx, u.Chat.ID, "blocked")
		return "blocked"
	case "member":
		return "unblocked" // resumed when they send /start
	}
	return ""
}

func (b *Bot) inbound(updateID int, from *tgbotapi.User, hint string) gateway.Inbound {
	return gateway.Inbound{
		Channel:   gateway.Telegram,
		SenderID:  strconv.FormatInt(from.ID, 10),
		Lang:      hint,
		MessageID: strconv.Itoa(updateID),
		Received:  time.Now(),
	}
}

// converse hands a message to the core and sends the replies.
func (b *Bot) converse(ctx context.Context, chatID int64, in gateway.Inbound, sharedContact bool) (string, error) {
	replies, intent, lang := b.ask(ctx, in)
	b.reply(ctx, chatID, lang, replies, sharedContact)
	return intent, nil
}

// ask calls the core, after the bookkeeping some payloads need: /start resumes a stopped user,
// /lang xx remembers the language for the bot's own texts. A core failure becomes an apology.
func (b *Bot) ask(ctx context.Context, in gateway.Inbound) (replies []gateway.Reply, intent, lang string) {
	uid, _ := strconv.ParseInt(in.SenderID, 10, 64)
	cmd, arg, _ := strings.Cut(strings.TrimSpace(in.Text), " ")
	switch strings.ToLower(cmd) {
	case "/start":
		if b.stops != nil {
			if err := b.stops.Resume(ctx, gateway.Telegram, in.SenderID); err != nil {
				b.log.Error("telegram: cannot resume a user", "user", maskID(uid), "err", err)
			}
		}
	case "/lang":
		if l := i18n.Lang(arg); l != "" {
			if err := b.rdb.Set(ctx, keyLang+in.SenderID, l, 365*24*time.Hour).Err(); err != nil {
				b.log.Warn("telegram: cannot remember a language", "err", err)
			}
		}
	}
	lang = b.langOf(ctx, uid, in.Lang)
	replies, err := b.core.Handle(ctx, in)
	if len(replies) > 0 && i18n.Lang(replies[0].Lang) != "" {
		// The core decides the language ("English please" switches it); the bot's own texts follow.
		lang = replies[0].Lang
	}
	if err != nil {
		b.log.Error("telegram: the core failed to answer", "user", maskID(uid), "err", err)
		replies = []gateway.Reply{{Text: b.cat.T(lang, "telegram.error.text"), Intent: "error"}}
	}
	intent = "unknown"
	for _, r := range replies {
		if r.Intent != "" {
			intent = r.Intent
			break
		}
	}
	return replies, intent, lang
}

// reply sends replies to a citizen, ahead of bulk traffic. Failures are logged: the person can
// ask again, and a blocked user has already been marked stopped by Send.
func (b *Bot) reply(ctx context.Context, chatID int64, lang string, replies []gateway.Reply, removeKeyboard bool) {
	for i, r := range replies {
		if err := b.deliver(ctx, chatID, lang, r, true, "", removeKeyboard && i == 0); err != nil {
			b.log.Warn("telegram: reply not delivered", "user", maskID(chatID), "err", err)
			return
		}
	}
}

func (b *Bot) answerCallback(ctx context.Context, id, text string) {
	if _, err := b.api(context.WithoutCancel(ctx), 10*time.Second).Request(tgbotapi.NewCallback(id, text)); err != nil {
		b.log.Warn("telegram: answerCallbackQuery failed", "err", classify(err))
	}
}

func (b *Bot) staffCommand(userID int64, cmd string) StaffCommand {
	if !b.staff[userID] {
		return nil
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.staffCmd[cmd]
}

func (b *Bot) runStaff(ctx context.Context, chatID, userID int64, hint string, fn StaffCommand, args string) error {
	lang := b.langOf(ctx, userID, hint)
	replies, err := fn(ctx, userID, args)
	if err != nil {
		b.log.Warn("telegram: staff command failed", "staff", maskID(userID), "err", err)
		replies = []gateway.Reply{{Text: b.cat.T(lang, "telegram.staff.failed", "error", err.Error())}}
	}
	b.reply(ctx, chatID, lang, replies, false)
	return nil
}

// statsCommand is /stats: the bot's own counters, then the figures of SetStats.
func (b *Bot) statsCommand(ctx context.Context, userID int64, _ string) ([]gateway.Reply, error) {
	lang := b.langOf(ctx, userID, "")
	own, err := b.rdb.HGetAll(ctx, keyStats).Result()
	if err != nil {
		return nil, err
	}
	line := func(name, value string) string {
		return b.cat.T(lang, "telegram.stats.line", "name", name, "value", value)
	}
	lines := []string{b.cat.T(lang, "telegram.stats.title")}
	for _, k := range []string{"updates", "sent", "stopped", "send_errors"} {
		v := own[k]
		if v == "" {
			v = "0"
		}
		lines = append(lines, line(b.cat.T(lang, "telegram.stats."+k), v))
	}
	b.mu.RLock()
	st := b.stats
	b.mu.RUnlock()
	if st != nil {
		counts, err := st.Counts(ctx)
		if err != nil {
			b.log.Warn("telegram: stats unavailable", "err", err)
			lines = append(lines, b.cat.T(lang, "telegram.stats.unavailable"))
		}
		keys := make([]string, 0, len(counts))
		for k := range counts {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			label := k
			if b.cat.Has(lang, "telegram.stats."+k) {
				label = b.cat.T(lang, "telegram.stats."+k)
			}
			lines = append(lines, line(label, strconv.FormatInt(counts[k], 10)))
		}
	}
	return []gateway.Reply{{Text: strings.Join(lines, "\n"), Intent: "staff_stats"}}, nil
}

// langOf is the language of the bot's own texts for a user: the one chosen with /lang, else
// Telegram's language_code, else the default.
func (b *Bot) langOf(ctx context.Context, userID int64, hint string) string {
	if userID != 0 {
		if v, err := b.rdb.Get(ctx, keyLang+strconv.FormatInt(userID, 10)).Result(); err == nil && i18n.Lang(v) != "" {
			return v
		}
	}
	if l := i18n.Lang(hint); l != "" {
		return l
	}
	return b.cfg.DefaultLang
}

func (b *Bot) incr(ctx context.Context, field string) {
	if err := b.rdb.HIncrBy(ctx, keyStats, field, 1).Err(); err != nil {
		b.log.Debug("telegram: counter not updated", "field", field, "err", err)
	}
}

// maskID hides the middle of a Telegram id for logs: 123456789 → 12*****89.
func maskID(id int64) string {
	s := strconv.FormatInt(id, 10)
	if len(s) <= 4 {
		return "****"
	}
	return s[:2] + strings.Repeat("*", len(s)-4) + s[len(s)-2:]
}

func (b *Bot) replyHook() StaffReply {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.staffReply
}
