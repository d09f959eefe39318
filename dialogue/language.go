package dialogue

import (
	"context"
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/i18n"
)

// autoPrefix marks a language the gateway detected from what the person writes, as opposed to
// one they chose ("English please", /lang en). A chosen language is never overridden; a
// detected one follows the person's writing: it is remembered until a message clearly in the
// other language comes.
const autoPrefix = "auto:"

// detectLanguage answers an English message in English for a person who has not chosen a
// language, and remembers it. Messages that do not tell (codes, digits, "ok", SMS keywords)
// keep the language the conversation had.
func (e *Engine) detectLanguage(ctx context.Context, t *turn, stored string, explicit bool) error {
	if explicit || t.in.Intent != "" || t.in.Contact != nil || strings.HasPrefix(t.in.Text, "/") {
		return nil
	}
	d := i18n.DetectLanguage(t.in.Text)
	if d == "" {
		return nil
	}
	if d == stored {
		return nil
	}
	t.lang = d
	return e.rdb.Set(ctx, langKey(t.in), autoPrefix+d, langTTL).Err()
}

// storedLanguage is the person's language as stored: chosen (explicit) or detected.
func (e *Engine) storedLanguage(ctx context.Context, in gateway.Inbound) (lang string, explicit bool, err error) {
	v, err := e.rdb.Get(ctx, langKey(in)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", false, err
	}
	if rest, ok := strings.CutPrefix(v, autoPrefix); ok {
		return i18n.Lang(rest), false, nil
	}
	if l := i18n.Lang(v); l != "" {
		return l, true, nil
	}
	return "", false, nil
}
