package webchat

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/i18n"
	"github.com/socialaid-vn/gateway/redisconn"
	"github.com/socialaid-vn/gateway/throttle"
)

// Register adds the channel's routes to mux:
//
//	GET  /                        the chat page
//	GET  /webchat.js              the chat script, also the embeddable widget
//	GET  /webchat/static/{file}   the page's stylesheet
//	POST /webchat/api/messages    {"text"[, "lang"]} → {"replies":[{"text","choices":[{"label","payload"}]}]}
//	GET  /webchat/api/events      Server-Sent Events: messages pushed to the session
//	OPTIONS /webchat/api/...      CORS preflight for WEBCHAT_ORIGINS
func (c *Channel) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", c.page)
	mux.HandleFunc("GET /webchat.js", c.serveScript)
	mux.Handle("GET /webchat/static/", http.StripPrefix("/webchat/static/", http.FileServerFS(staticFS())))
	mux.Handle("POST /webchat/api/messages", c.api(http.HandlerFunc(c.messages)))
	mux.Handle("GET /webchat/api/events", c.api(http.HandlerFunc(c.events)))
	mux.Handle("OPTIONS /webchat/api/", c.api(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
}

// api wraps an API handler with CORS for the allowed embedding origins and Go's cross-origin
// protection: a state-changing request from any other site is refused with 403, whatever its
// content type (a form post from another page cannot chat on someone's session).
func (c *Channel) api(next http.Handler) http.Handler {
	protected := c.cop.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if o := r.Header.Get("Origin"); o != "" && !sameHost(o, r.Host) {
			if !c.origins[strings.ToLower(o)] {
				writeError(w, http.StatusForbidden, "origin not allowed (WEBCHAT_ORIGINS)")
				return
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", o)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Add("Vary", "Origin")
			if r.Method == http.MethodOptions {
				h.Set("Access-Control-Allow-Methods", "GET, POST")
				h.Set("Access-Control-Allow-Headers", "Content-Type, Last-Event-ID")
				h.Set("Access-Control-Max-Age", "600")
			}
		}
		protected.ServeHTTP(w, r)
	})
}

// messageIn is the body of POST /webchat/api/messages.
type messageIn struct {
	Text string `json:"text"`
	// Lang is the page's language ("vi", "en"): the core answers in it until the person
	// chooses a language in the conversation.
	Lang string `json:"lang,omitempty"`
}

// ReplyOut is one reply as the API returns it.
type ReplyOut struct {
	Text    string      `json:"text"`
	Choices []ChoiceOut `json:"choices,omitempty"`
}

// ChoiceOut is a button under a reply: Payload is posted as the next message when pressed.
type ChoiceOut struct {
	Label   string `json:"label"`
	Payload string `json:"payload"`
}

// Render turns the core's replies into the web chat's form: the full text (the web has room)
// and every choice as a button.
func Render(replies []gateway.Reply) []ReplyOut {
	out := make([]ReplyOut, 0, len(replies))
	for _, r := range replies {
		ro := ReplyOut{Text: r.Text}
		if ro.Text == "" {
			ro.Text = r.Short
		}
		for _, ch := range r.Choices {
			p := ch.Payload
			if p == "" {
				p = ch.Label
			}
			ro.Choices = append(ro.Choices, ChoiceOut{Label: ch.Label, Payload: p})
		}
		out = append(out, ro)
	}
	return out
}

func (c *Channel) messages(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "send application/json")
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, "body larger than 8 KiB")
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "cannot read body")
		return
	}
	if !utf8.Valid(raw) {
		writeError(w, http.StatusBadRequest, "body is not valid UTF-8")
		return
	}
	var in messageIn
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "bad JSON: want {\"text\": \"...\"}")
		return
	}
	text := strings.TrimSpace(in.Text)
	if text == "" {
		writeError(w, http.StatusBadRequest, "text is empty")
		return
	}
	if n := utf8.RuneCountInString(text); n > MaxText {
		writeError(w, http.StatusRequestEntityTooLarge, "text longer than "+strconv.Itoa(MaxText)+" characters")
		return
	}
	ctx := r.Context()
	if !c.allow(w, r, "webchat:addr:"+clientAddr(r), c.cfg.AddressRate) {
		return
	}
	s, err := c.session(w, r)
	if err != nil {
		c.log.Error("webchat session", "err", err)
		writeError(w, http.StatusServiceUnavailable, "storage unavailable, try again")
		return
	}
	if !c.allow(w, r, "webchat:s:"+s.id, c.cfg.SessionRate) {
		return
	}
	mu := c.lock(s.id)
	mu.Lock()
	defer mu.Unlock()
	if c.stops != nil {
		if err := c.stops.Resume(ctx, gateway.Web, s.id); err != nil && !redisconn.Unavailable(err) {
			c.log.Warn("webchat resume", "sender", gateway.Mask(s.id), "err", err)
		}
	}
	replies, err := c.core.Handle(ctx, gateway.Inbound{
		Channel: gateway.Web, SenderID: s.id, Text: text, Lang: langOr(in.Lang, c.langHint(r)), Received: start,
	})
	if err != nil {
		c.log.Error("webchat inbound failed", "sender", gateway.Mask(s.id), "err", err)
	}
	intent := ""
	if len(replies) > 0 {
		intent = replies[0].Intent
	}
	c.log.Info("webchat inbound", "sender", gateway.Mask(s.id), "intent", intent, "ms", time.Since(start).Milliseconds())
	writeJSON(w, http.StatusOK, map[string]any{"replies": Render(replies)})
}

// allow takes one message from the limit of bucket; when it is used up it answers 429 with
// Retry-After and a polite text for the person, and reports false.
func (c *Channel) allow(w http.ResponseWriter, r *http.Request, bucket string, lim throttle.Limit) bool {
	wait, err := c.limiter.Take(r.Context(), bucket, lim, true)
	if err != nil {
		if !redisconn.Unavailable(err) {
			c.log.Warn("webchat rate limit", "err", err)
		}
		return true // Redis trouble must not silence people; the core answers politely anyway
	}
	if wait <= 0 {
		return true
	}
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeJSON(w, http.StatusTooManyRequests, map[string]any{
		"error":   "too many messages",
		"message": c.cat.T(c.langHint(r), "webchat.too_fast", "seconds", strconv.Itoa(secs)),
	})
	return false
}

// langHint is the browser's language (the Accept-Language header's first supported one).
func (c *Channel) langHint(r *http.Request) string {
	if l := i18n.Lang(r.URL.Query().Get("lang")); l != "" {
		return l
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if l := i18n.Lang(tag); l != "" {
			return l
		}
	}
	return c.cfg.DefaultLang
}

func langOr(l, def string) string {
	if l = i18n.Lang(l); l != "" {
		return l
	}
	return def
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
