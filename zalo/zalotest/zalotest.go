// Package zalotest is a fake Zalo for tests: one httptest server answering the OA API's cs
// endpoint (/v3.0/oa/message/cs), the OAuth v4 token endpoint (/v4/oa/access_token) and ZNS
// (/message/template) the way Zalo does — access tokens that expire (-216), refresh tokens that
// work once, -32 beyond a request rate, the 48-hour/8-message reply window, the text and button
// limits — plus helpers that post signed webhook events as Zalo would.
package zalotest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is the fake. Its fields may be changed before the first request; use the methods after.
type Server struct {
	*httptest.Server
	AppID, AppSecret, OASecretKey string
	// AccessLifetime is the expires_in of new access tokens (default 25 h, as Zalo's).
	AccessLifetime time.Duration
	// RatePerSecond, when positive, is how many API calls a second are answered; beyond it the
	// answer is error -32.
	RatePerSecond int
	// Now is the fake's clock (token expiry, reply window); default time.Now.
	Now func() time.Time
	// ProactiveQuota is how many proactive messages (to followers, outside the free reply
	// window) the OA may still send; default 1000, a verified OA's free monthly quota.
	ProactiveQuota int

	mu        sync.Mutex
	seq       int
	refresh   map[string]int       // refresh token → times used (valid when issued and 0)
	issued    map[string]bool      // refresh tokens this server issued (or was seeded with)
	access    map[string]time.Time // access token → expiry
	window    map[string]*win      // user → reply window
	followers map[string]bool
	calls     []time.Time // API call times, for the rate
	sent      []Sent
	zns       []ZNS
	refreshes int
	throttled int
	refused   int
	proactive int
}

type win struct {
	at    time.Time
	msgID string
	sent  int
}

// Sent is a cs message the fake accepted.
type Sent struct {
	UserID, ReplyTo string // recipient.user_id and recipient.message_id
	Text            string
	Buttons         []Button
	At              time.Time
}

// Button is one button of a message.
type Button struct {
	Title, Type, Payload string
}

// ZNS is a template message the fake accepted.
type ZNS struct {
	Phone, TemplateID, TrackingID string
	Data                          map[string]string
}

// New starts a fake whose first refresh token is initialRefresh.
func New(appID, appSecret, oaSecretKey, initialRefresh string) *Server {
	s := &Server{
		AppID: appID, AppSecret: appSecret, OASecretKey: oaSecretKey,
		AccessLifetime: 25 * time.Hour, Now: time.Now,
		refresh: map[string]int{initialRefresh: 0}, issued: map[string]bool{initialRefresh: true},
		access: map[string]time.Time{}, window: map[string]*win{}, followers: map[string]bool{},
		ProactiveQuota: 1000,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v4/oa/access_token", s.token)
	mux.HandleFunc("POST /v3.0/oa/message/cs", s.cs)
	mux.HandleFunc("POST /message/template", s.template)
	s.Server = httptest.NewServer(mux)
	return s
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, map[string]any{"error": code, "message": msg})
}

// token is the OAuth v4 endpoint: refresh_token grant only, each refresh token once.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshes++
	if err := r.ParseForm(); err != nil {
		writeJSON(w, map[string]any{"error": -14001, "error_name": "Invalid parameter", "error_description": "bad form"})
		return
	}
	rt := r.PostForm.Get("refresh_token")
	if rt != "" {
		s.refresh[rt]++ // counted even when refused: a token sent twice is a bug of the client
	}
	switch {
	case r.Header.Get("secret_key") != s.AppSecret:
		writeJSON(w, map[string]any{"error": -14003, "error_name": "Invalid secret key", "error_description": "secret_key is invalid"})
		return
	case r.PostForm.Get("app_id") != s.AppID || r.PostForm.Get("grant_type") != "refresh_token":
		writeJSON(w, map[string]any{"error": -14002, "error_name": "Invalid app id or grant type", "error_description": "app_id or grant_type is invalid"})
		return
	case !s.issued[rt] || s.refresh[rt] > 1:
		s.refused++
		writeJSON(w, map[string]any{"error": -14014, "error_name": "Invalid refresh token", "error_description": "Refresh token is invalid or was used"})
		return
	}
	s.seq++
	at, nrt := "AT-"+strconv.Itoa(s.seq), "RT-"+strconv.Itoa(s.seq)
	s.access[at] = s.Now().Add(s.AccessLifetime)
	s.issued[nrt] = true
	s.refresh[nrt] = 0
	writeJSON(w, map[string]any{"access_token": at, "refresh_token": nrt, "expires_in": strconv.Itoa(int(s.AccessLifetime / time.Second))})
}

// checkCall applies the token and rate rules common to the API endpoints; it answers and
// returns false when the call is refused.
func (s *Server) checkCall(w http.ResponseWriter, r *http.Request) bool {
	now := s.Now()
	if exp, ok := s.access[r.Header.Get("access_token")]; !ok || !now.Before(exp) {
		apiError(w, -216, "Access token is invalid")
		return false
	}
	if s.RatePerSecond > 0 {
		kept := s.calls[:0]
		for _, t := range s.calls {
			if now.Sub(t) < time.Second {
				kept = append(kept, t)
			}
		}
		s.calls = kept
		if len(s.calls) >= s.RatePerSecond {
			s.throttled++
			apiError(w, -32, "Your application reached limit call api")
			return false
		}
		s.calls = append(s.calls, now)
	}
	return true
}

type csRequest struct {
	Recipient struct {
		UserID    string `json:"user_id"`
		MessageID string `json:"message_id"`
	} `json:"recipient"`
	Message struct {
		Text       string `json:"text"`
		Attachment *struct {
			Type    string `json:"type"`
			Payload struct {
				Buttons []struct {
					Title   string          `json:"title"`
					Type    string          `json:"type"`
					Payload json.RawMessage `json:"payload"`
				} `json:"buttons"`
			} `json:"payload"`
		} `json:"attachment"`
	} `json:"message"`
}

func units(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

// cs is the customer-service message endpoint, with Zalo's reply window: a message naming the
// user's last message (recipient.message_id) is a free reply for 8 messages in the 48 hours after
// it; anything else is proactive, allowed to followers (and users who wrote within 7 days) while
// ProactiveQuota lasts (-211 after), refused otherwise (-230; -213 for a user who never followed
// nor wrote).
func (s *Server) cs(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.checkCall(w, r) {
		return
	}
	var req csRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		apiError(w, -201, "body is invalid")
		return
	}
	if req.Recipient.UserID == "" {
		apiError(w, -201, "recipient is invalid")
		return
	}
	if req.Message.Text == "" || units(req.Message.Text) > 2000 {
		apiError(w, -201, "message.text is invalid")
		return
	}
	sent := Sent{UserID: req.Recipient.UserID, ReplyTo: req.Recipient.MessageID, Text: req.Message.Text, At: s.Now()}
	if a := req.Message.Attachment; a != nil {
		if a.Type != "template" || len(a.Payload.Buttons) == 0 || len(a.Payload.Buttons) > 5 {
			apiError(w, -201, "attachment is invalid")
			return
		}
		for _, b := range a.Payload.Buttons {
			var p string
			if json.Unmarshal(b.Payload, &p) != nil || b.Title == "" || units(b.Title) > 100 || len(p) > 1000 || b.Type != "oa.query.hide" && b.Type != "oa.query.show" {
				apiError(w, -201, "button is invalid")
				return
			}
			sent.Buttons = append(sent.Buttons, Button{Title: b.Title, Type: b.Type, Payload: p})
		}
	}
	wn := s.window[req.Recipient.UserID]
	free := wn != nil && req.Recipient.MessageID != "" && req.Recipient.MessageID == wn.msgID &&
		s.Now().Sub(wn.at) <= 48*time.Hour && wn.sent < 8
	recent := wn != nil && s.Now().Sub(wn.at) <= 7*24*time.Hour
	switch {
	case free:
		wn.sent++
	case !recent && !s.followers[req.Recipient.UserID]:
		if wn == nil {
			apiError(w, -213, "User has not followed OA")
		} else {
			apiError(w, -230, "User has not interacted with the OA in the past 7 days")
		}
		return
	case s.ProactiveQuota <= 0:
		apiError(w, -211, "Out of quota")
		return
	default:
		s.ProactiveQuota--
		s.proactive++
	}
	s.seq++
	s.sent = append(s.sent, sent)
	writeJSON(w, map[string]any{"error": 0, "message": "Success", "data": map[string]any{
		"message_id": "OA-" + strconv.Itoa(s.seq), "user_id": req.Recipient.UserID, "quota": map[string]any{"quota_type": "reply"}}})
}

// template is the ZNS endpoint: a phone 84xxxxxxxxx, a template id and its data.
func (s *Server) template(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.checkCall(w, r) {
		return
	}
	var req struct {
		Phone        string            `json:"phone"`
		TemplateID   string            `json:"template_id"`
		TemplateData map[string]string `json:"template_data"`
		TrackingID   string            `json:"tracking_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Phone) != 11 || req.Phone[:2] != "84" || req.TemplateID == "" {
		apiError(w, -108, "Phone number or template is invalid")
		return
	}
	s.seq++
	s.zns = append(s.zns, ZNS{Phone: req.Phone, TemplateID: req.TemplateID, TrackingID: req.TrackingID, Data: req.TemplateData})
	writeJSON(w, map[string]any{"error": 0, "message": "Success", "data": map[string]any{"msg_id": "ZNS-" + strconv.Itoa(s.seq), "sent_time": strconv.FormatInt(s.Now().UnixMilli(), 10)}})
}

// Authorise returns a new refresh token, as authorising the app for the OA again gives one.
func (s *Server) Authorise() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	rt := "RT-auth-" + strconv.Itoa(s.seq)
	s.issued[rt] = true
	s.refresh[rt] = 0
	return rt
}

// ExpireAccessTokens makes every access token issued so far invalid, as after 25 hours.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.access {
		s.access[k] = time.Time{}
	}
}

// Sent returns the cs messages accepted so far.
func (s *Server) Sent() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sent(nil), s.sent...)
}

// SentTo returns the cs messages accepted for one user.
func (s *Server) SentTo(user string) []Sent {
	var out []Sent
	for _, m := range s.Sent() {
		if m.UserID == user {
			out = append(out, m)
		}
	}
	return out
}

// ZNSSent returns the ZNS messages accepted so far.
func (s *Server) ZNSSent() []ZNS {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ZNS(nil), s.zns...)
}

// Stats are counters of what the fake saw.
type Stats struct {
	Refreshes int // calls of the token endpoint
	Refused   int // refreshes refused (unknown or used refresh token)
	Throttled int // API calls answered -32
	Proactive int // cs messages that were not free replies (counted against the OA's quota)
	// Reused lists the refresh tokens sent more than once.
	Reused []string
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Refreshes: s.refreshes, Refused: s.refused, Throttled: s.throttled, Proactive: s.proactive}
	for t, n := range s.refresh {
		if n > 1 {
			st.Reused = append(st.Reused, t)
		}
	}
	return st
}

// Interacted records that user wrote message msgID to the OA at t, opening Zalo's free reply
// window for replies naming it (the webhook helpers do it for the events they post).
func (s *Server) Interacted(user, msgID string, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.window[user] = &win{at: t, msgID: msgID}
}

// Followed records that user follows (true) or unfollowed (false) the OA.
func (s *Server) Followed(user string, yes bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.followers[user] = yes
}

// Sign is the X-ZEvent-Signature of body for an event with the given timestamp.
func (s *Server) Sign(body []byte, timestamp string) string {
	sum := sha256.Sum256(append(append(append([]byte(s.AppID), body...), timestamp...), s.OASecretKey...))
	return "mac=" + hex.EncodeToString(sum[:])
}

// Event builds a webhook event body as Zalo sends it. For user_send_text text is the message and
// msgID its id; follow and unfollow put the user under "follower".
func (s *Server) Event(name, user, text, msgID string, at time.Time) []byte {
	ev := map[string]any{
		"app_id": s.AppID, "event_name": name, "timestamp": strconv.FormatInt(at.UnixMilli(), 10),
		"user_id_by_app": "app-" + user,
	}
	switch name {
	case "follow", "unfollow":
		ev["oa_id"] = "579745863508352884"
		ev["follower"] = map[string]any{"id": user}
		ev["source"] = "oa_profile"
	default:
		ev["sender"] = map[string]any{"id": user}
		ev["recipient"] = map[string]any{"id": "579745863508352884"}
		msg := map[string]any{"msg_id": msgID}
		if name == "user_send_text" {
			msg["text"] = text
		}
		ev["message"] = msg
	}
	b, _ := json.Marshal(ev)
	return b
}

// Post delivers a webhook body to url signed as Zalo signs it and returns the HTTP status. A
// message from a user also opens the fake's reply window for that user, and follow/unfollow
// change who follows, as they would at Zalo.
func (s *Server) Post(url string, body []byte) (int, error) {
	var ev struct {
		Name      string `json:"event_name"`
		Timestamp string `json:"timestamp"`
		Sender    struct {
			ID string `json:"id"`
		} `json:"sender"`
		Follower struct {
			ID string `json:"id"`
		} `json:"follower"`
		Message struct {
			MsgID string `json:"msg_id"`
		} `json:"message"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return 0, fmt.Errorf("zalotest: not an event: %w", err)
	}
	return s.PostSigned(url, body, s.Sign(body, ev.Timestamp), func() {
		switch {
		case ev.Name == "follow" || ev.Name == "unfollow":
			s.Followed(ev.Follower.ID, ev.Name == "follow")
		case (strings.HasPrefix(ev.Name, "user_send_") || ev.Name == "user_submit_info") && ev.Sender.ID != "" && ev.Message.MsgID != "":
			ms, _ := strconv.ParseInt(ev.Timestamp, 10, 64)
			s.Interacted(ev.Sender.ID, ev.Message.MsgID, time.UnixMilli(ms))
		}
	})
}

// PostSigned posts body with the given signature header value ("" sends none); before runs just
// before the request.
func (s *Server) PostSigned(url string, body []byte, signature string, before func()) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("X-ZEvent-Signature", signature)
	}
	if before != nil {
		before()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Text posts a signed user_send_text event from user and returns the status.
func (s *Server) Text(url, user, text, msgID string) (int, error) {
	return s.Post(url, s.Event("user_send_text", user, text, msgID, s.Now()))
}
