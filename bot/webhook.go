package bot

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// maxWebhookBody is the largest update body accepted.
const maxWebhookBody = 1 << 20

// WebhookHandler serves POST /telegram/webhook. Only Telegram may call it: the request must carry
// Config.WebhookSecret in X-Telegram-Bot-Api-Secret-Token (compared in constant time), else 401;
// without a configured secret every request gets 401. Bodies over 1 MiB get 413, malformed ones
// 400. The update is handled before answering 200, so if the process dies first Telegram delivers
// it again; an update delivered twice is handled once. 500 means "not handled, send it again".
func (b *Bot) WebhookHandler() http.Handler {
	want := sha256.Sum256([]byte(b.cfg.WebhookSecret))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		got := sha256.Sum256([]byte(r.Header.Get("X-Telegram-Bot-Api-Secret-Token")))
		if b.cfg.WebhookSecret == "" || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			b.log.Warn("telegram: webhook call without the right secret token refused")
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var u tgbotapi.Update
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxWebhookBody)).Decode(&u); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, "update too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "malformed update", http.StatusBadRequest)
			return
		}
		if u.UpdateID <= 0 {
			http.Error(w, "malformed update: no update_id", http.StatusBadRequest)
			return
		}
		// Finish the update even if Telegram hangs up; Telegram waits up to about a minute.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 55*time.Second)
		defer cancel()
		if err := b.handleUpdate(ctx, u); err != nil {
			b.log.Error("telegram: webhook update not handled; Telegram will send it again", "update_id", u.UpdateID, "err", err)
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}
