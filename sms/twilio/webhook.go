package twilio

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/socialaid-vn/gateway/sms"
)

// MaxWebhookBody is the largest webhook body accepted (413 beyond it).
const MaxWebhookBody = 64 << 10

// Inbound is an inbound SMS as Twilio posts it to the webhook (the fields the channel uses).
type Inbound struct {
	From, Body, MessageSID string
	// OptOutType is set by Twilio's Advanced Opt-Out: "STOP", "START" or "HELP".
	OptOutType string
}

// errBadRequest marks webhook bodies that are malformed or miss a required field.
var errBadRequest = errors.New("bad request")

// ParseInbound reads Twilio's form-encoded inbound message. From, Body and MessageSid must be
// present (Body may be empty: a picture without text); From must be a phone number.
func ParseInbound(form url.Values) (Inbound, error) {
	in := Inbound{
		From:       strings.TrimSpace(form.Get("From")),
		Body:       form.Get("Body"),
		MessageSID: strings.TrimSpace(form.Get("MessageSid")),
		OptOutType: strings.ToUpper(strings.TrimSpace(form.Get("OptOutType"))),
	}
	var missing []string
	if in.From == "" {
		missing = append(missing, "From")
	}
	if _, ok := form["Body"]; !ok {
		missing = append(missing, "Body")
	}
	if in.MessageSID == "" {
		missing = append(missing, "MessageSid")
	}
	if len(missing) > 0 {
		return in, fmt.Errorf("%w: missing %s", errBadRequest, strings.Join(missing, ", "))
	}
	if len(in.MessageSID) > 64 {
		return in, fmt.Errorf("%w: MessageSid too long", errBadRequest)
	}
	if _, err := sms.NormalizePhone(in.From); err != nil {
		return in, fmt.Errorf("%w: From: %v", errBadRequest, err)
	}
	return in, nil
}

// readSigned reads a Twilio webhook request and checks its signature. It writes the error
// response itself and returns ok=false when the request must not be processed: 405 for another
// method, 413 over MaxWebhookBody, 403 for a missing or wrong signature, 400 for a body that is
// not a form.
func (t *Transport) readSigned(w http.ResponseWriter, r *http.Request, log *slog.Logger) (url.Values, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "cannot read body", http.StatusBadRequest)
		}
		return nil, false
	}
	sig := r.Header.Get("X-Twilio-Signature")
	full := t.cfg.PublicBaseURL + r.URL.RequestURI()
	form, perr := url.ParseQuery(string(body))
	// The signature over the URL as configured is checked first, in one HMAC; twilio-go's
	// validator (which also tries the URL with and without its port, at two HMACs and many
	// allocations a request) decides whatever that does not accept.
	valid := sig != "" && perr == nil && t.signatureMatches(full, form, sig)
	if !valid && (sig == "" || !t.validator.ValidateBody(full, body, sig)) {
		log.Warn("sms webhook signature rejected", "path", r.URL.Path)
		http.Error(w, "invalid signature", http.StatusForbidden)
		return nil, false
	}
	if perr != nil {
		http.Error(w, "body is not a form", http.StatusBadRequest)
		return nil, false
	}
	return form, true
}

// signatureMatches computes Twilio's request signature — base64 of HMAC-SHA1, keyed by the auth
// token, over the URL followed by each parameter's name and value in name order — and compares
// it with sig in constant time.
func (t *Transport) signatureMatches(fullURL string, form url.Values, sig string) bool {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	mac := hmac.New(sha1.New, []byte(t.cfg.AuthToken))
	io.WriteString(mac, fullURL)
	for _, k := range keys {
		for _, v := range form[k] {
			io.WriteString(mac, k)
			io.WriteString(mac, v)
		}
	}
	var want [28]byte
	base64.StdEncoding.Encode(want[:], mac.Sum(nil))
	return hmac.Equal(want[:], []byte(sig))
}

// InboundHandler serves POST /sms/twilio: Twilio's incoming-message webhook, handed to ch. Only
// requests signed with the auth token over PUBLIC_BASE_URL + request URI are processed (see
// readSigned for the error statuses; 400 also when From, Body or MessageSid is missing). The
// answer is TwiML (text/xml) with the reply as one <Message>, or an empty <Response/> when there
// is none.
//
// Twilio's Advanced Opt-Out is honoured before the core sees anything: OptOutType STOP records the
// opt-out and START the opt-in, and both are answered with an empty response, since Twilio sends
// its own confirmation (and would block ours). Otherwise the message goes through ch.Receive
// (replayed MessageSids get the stored reply). When the core fails, the person gets a short
// apology asking to try again, and nothing is remembered under the MessageSid.
func (t *Transport) InboundHandler(ch *sms.Channel, log *slog.Logger) http.Handler {
	log = orDiscard(log)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		form, ok := t.readSigned(w, r, log)
		if !ok {
			return
		}
		in, err := ParseInbound(form)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		phone, _ := sms.NormalizePhone(in.From) // checked by ParseInbound
		ctx := r.Context()
		switch in.OptOutType {
		case "STOP":
			if err := ch.OptOut(ctx, phone); err != nil {
				log.Error("sms opt-out not recorded", "from", sms.MaskPhone(phone), "sid", in.MessageSID, "err", err)
				http.Error(w, "try again", http.StatusInternalServerError)
				return
			}
			log.Info("sms inbound", "transport", "twilio", "from", sms.MaskPhone(phone), "sid", in.MessageSID, "intent", sms.IntentUnsubscribe, "opt_out", "STOP", "segments", 0)
			writeTwiML(w, "")
			return
		case "START":
			if err := ch.OptIn(ctx, phone); err != nil {
				log.Error("sms opt-in not recorded", "from", sms.MaskPhone(phone), "sid", in.MessageSID, "err", err)
				http.Error(w, "try again", http.StatusInternalServerError)
				return
			}
			log.Info("sms inbound", "transport", "twilio", "from", sms.MaskPhone(phone), "sid", in.MessageSID, "intent", sms.IntentSubscribe, "opt_out", "START", "segments", 0)
			writeTwiML(w, "")
			return
		}
		text, err := ch.Receive(ctx, sms.Inbound{Transport: t.Name(), From: phone, Text: in.Body, ID: in.MessageSID})
		switch {
		case errors.Is(err, sms.ErrDuplicate):
			text = ""
		case err != nil:
			text = ch.TemporaryError()
		}
		writeTwiML(w, text)
	})
}

// writeTwiML answers a messaging webhook with text as one <Message> ("" answers nothing).
func writeTwiML(w http.ResponseWriter, text string) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	if text == "" {
		b.WriteString("<Response></Response>")
	} else {
		b.WriteString("<Response><Message>")
		xml.EscapeText(&b, []byte(text))
		b.WriteString("</Message></Response>")
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Write(b.Bytes())
}

// StatusHandler serves POST /sms/twilio/status, the StatusCallback of outbound messages, checked
// like the inbound webhook. It records MessageStatus and ErrorCode under the MessageSid through
// ch.RecordDelivery (never moving a message back to an earlier status when callbacks arrive out
// of order), and marks the recipient opted out on error 21610. 400 when MessageSid or
// MessageStatus is missing; 500 when Redis fails (Twilio then tries again).
func (t *Transport) StatusHandler(ch *sms.Channel, log *slog.Logger) http.Handler {
	log = orDiscard(log)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		form, ok := t.readSigned(w, r, log)
		if !ok {
			return
		}
		sid := strings.TrimSpace(form.Get("MessageSid"))
		status := strings.ToLower(strings.TrimSpace(form.Get("MessageStatus")))
		if status == "" {
			status = strings.ToLower(strings.TrimSpace(form.Get("SmsStatus")))
		}
		code := strings.TrimSpace(form.Get("ErrorCode"))
		if sid == "" || status == "" || len(sid) > 64 || len(status) > 32 || len(code) > 16 {
			http.Error(w, "MessageSid and MessageStatus required", http.StatusBadRequest)
			return
		}
		ctx := r.Context()
		if err := ch.RecordDelivery(ctx, t.Name(), sid, status, code); err != nil {
			log.Error("sms status not recorded", "sid", sid, "err", err)
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		if code == codeOptedOut {
			if phone, err := sms.NormalizePhone(form.Get("To")); err == nil {
				if err := ch.OptOut(ctx, phone); err != nil {
					log.Error("sms opt-out not recorded", "to", sms.MaskPhone(phone), "sid", sid, "err", err)
				}
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func orDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}
