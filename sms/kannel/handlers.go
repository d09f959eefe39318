package kannel

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/unicode"

	"github.com/socialaid-vn/gateway/sms"
)

// MaxBody is the largest MO or delivery-report body accepted (413 beyond it).
const MaxBody = 64 << 10

// MO is an inbound message as Kannel's sms-service passes it.
type MO struct {
	From, To string // %p the sender's number, %P the short code it was sent to
	ID       string // %I the message id Kannel gave it (a UUID)
	Text     string // decoded to UTF-8
	Coding   int    // %c: 0 GSM-7 (text in charset), 1 8-bit data, 2 UCS-2
	SMSC     string // %i the smsc-id of the carrier link
}

// errBadRequest marks MO requests that are malformed or miss a required field.
var errBadRequest = errors.New("bad request")

// ParseMO reads an MO request: the query (get-url, or post-url's query) carries from, to, id,
// coding, charset, smsc and, for get-url, text (%b); a POST carries the text as its body
// (Content-Type text/plain with the charset, X-Kannel-Coding), the query the rest. The text is
// decoded from the coding and charset: UCS-2 as UTF-16BE, GSM-7 text in the charset Kannel
// names (UTF-8 by default, or the service's alt-charset). Invalid bytes become U+FFFD rather than
// losing the message. from and id are required, from must be a phone number.
func ParseMO(r *http.Request, body []byte) (MO, error) {
	q := r.URL.Query()
	mo := MO{
		From: strings.TrimSpace(q.Get("from")),
		To:   strings.TrimSpace(q.Get("to")),
		ID:   strings.TrimSpace(q.Get("id")),
		SMSC: strings.TrimSpace(q.Get("smsc")),
	}
	coding := strings.TrimSpace(q.Get("coding"))
	charset := strings.TrimSpace(q.Get("charset"))
	raw := []byte(q.Get("text"))
	if r.Method == http.MethodPost && !q.Has("text") {
		raw = body
		if mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil {
			if mt == "application/octet-stream" {
				coding = "1"
			}
			if cs := params["charset"]; cs != "" && charset == "" {
				charset = cs
			}
		}
		if c := strings.TrimSpace(r.Header.Get("X-Kannel-Coding")); c != "" && coding == "" {
			coding = c
		}
		if mo.From == "" {
			mo.From = strings.TrimSpace(r.Header.Get("X-Kannel-From"))
		}
		if mo.To == "" {
			mo.To = strings.TrimSpace(r.Header.Get("X-Kannel-To"))
		}
	}
	var missing []string
	if mo.From == "" {
		missing = append(missing, "from")
	}
	if mo.ID == "" {
		missing = append(missing, "id")
	}
	if len(missing) > 0 {
		return mo, fmt.Errorf("%w: missing %s (the sms-service get-url must carry from=%%p and id=%%I)", errBadRequest, strings.Join(missing, ", "))
	}
	if len(mo.ID) > 64 {
		return mo, fmt.Errorf("%w: id too long", errBadRequest)
	}
	if _, err := sms.NormalizePhone(mo.From); err != nil {
		return mo, fmt.Errorf("%w: from: %v", errBadRequest, err)
	}
	mo.Coding = 0
	if coding != "" {
		n, err := strconv.Atoi(coding)
		if err != nil || n < -1 || n > 2 {
			return mo, fmt.Errorf("%w: coding %q", errBadRequest, coding)
		}
		mo.Coding = max(n, 0) // -1: undefined, i.e. GSM-7
	}
	text, err := decode(raw, mo.Coding, charset)
	if err != nil {
		return mo, fmt.Errorf("%w: %v", errBadRequest, err)
	}
	mo.Text = text
	return mo, nil
}

// decode turns Kannel's message bytes into UTF-8.
func decode(raw []byte, coding int, charset string) (string, error) {
	var enc encoding.Encoding
	switch cs := strings.ToUpper(strings.Trim(charset, `"' `)); {
	case coding == 1:
		return "", nil // 8-bit data (a ringtone, a WAP push): no text
	case coding == 2 && (cs == "" || cs == "UTF-16BE" || cs == "UTF16-BE" || cs == "UCS-2" || cs == "UCS2" || cs == "ISO-10646-UCS-2"):
		enc = unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)
	case cs == "" || cs == "UTF-8" || cs == "UTF8":
		return strings.ToValidUTF8(string(raw), "\uFFFD"), nil
	default:
		e, err := ianaindex.IANA.Encoding(charset)
		if err != nil || e == nil {
			return "", fmt.Errorf("charset %q unknown", charset)
		}
		enc = e
	}
	if coding == 2 && len(raw)%2 == 1 {
		raw = append(raw, 0) // a truncated UTF-16 unit: keep what came, mark the rest
	}
	out, err := enc.NewDecoder().Bytes(raw)
	if err != nil {
		return "", fmt.Errorf("text not in %s: %v", charset, err)
	}
	if !utf8.Valid(out) {
		out = []byte(strings.ToValidUTF8(string(out), "\uFFFD"))
	}
	return string(out), nil
}

// read authenticates and reads a request from Kannel. It writes the error response itself and
// returns ok=false when the request must not be processed: 405 for another method than GET and
// POST, 403 for a wrong or missing secret or a caller outside KANNEL_ALLOW_FROM, 413 over MaxBody.
func (t *Transport) read(w http.ResponseWriter, r *http.Request, log *slog.Logger) ([]byte, bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return nil, false
	}
	if !t.allowed(r) {
		log.Warn("kannel request refused", "path", r.URL.Path, "remote", remoteHost(r))
		http.Error(w, "forbidden", http.StatusForbidden)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "cannot read body", http.StatusBadRequest)
		}
		return nil, false
	}
	return body, true
}

func remoteHost(r *http.Request) string {
	if i := strings.LastIndexByte(r.RemoteAddr, ':'); i > 0 {
		return r.RemoteAddr[:i]
	}
	return r.RemoteAddr
}

// MOHandler serves GET and POST /sms/kannel, the get-url or post-url of Kannel's sms-service,
// and hands each message to ch.Answer: the reply is sent as a new SMS through the channel's
// outbound transport, and the request is answered 200 with an empty body (the service's
// max-messages = 0 makes Kannel send nothing itself). A message id seen before is not answered
// again. 400 for a malformed request (see ParseMO); 503 when the answer could not be given now
// (the core or Redis failed, or the outbound provider did not take the reply) — Kannel then
// delivers the message again after http-queue-delay (http-request-retry in kannel.conf), and
// only the remembered reply is sent. 8-bit data messages are acknowledged and not answered.
func (t *Transport) MOHandler(ch *sms.Channel, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := t.read(w, r, log)
		if !ok {
			return
		}
		mo, err := ParseMO(r, body)
		if err != nil {
			log.Warn("kannel mo refused", "err", err.Error())
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if mo.Coding == 1 {
			log.Info("kannel mo: 8-bit data message not answered", "sid", mo.ID, "from", sms.MaskPhone(mo.From))
			w.WriteHeader(http.StatusOK)
			return
		}
		err = ch.Answer(r.Context(), sms.Inbound{Transport: t.Name(), From: mo.From, Text: mo.Text, ID: mo.ID})
		if err != nil {
			log.Warn("kannel mo not answered yet; Kannel will deliver it again", "sid", mo.ID, "err", err)
			http.Error(w, "try again later", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// dlrStatus maps Kannel's delivery-report types (%d) to the channel's delivery statuses.
var dlrStatus = map[int]string{
	1:  "delivered",   // delivered to the phone
	2:  "undelivered", // the SMSC could not deliver it
	4:  "buffered",    // the SMSC holds it (phone off or out of reach)
	8:  "sent",        // the SMSC accepted it
	16: "failed",      // the SMSC rejected it
}

// DLRHandler serves GET and POST /sms/kannel/dlr, the dlr-url of outbound messages, checked like
// MOHandler. It records the report under the message's id through ch.RecordDelivery (never
// moving a message back to an earlier status), with the SMPP error code from the SMSC's reply
// (err:NNN, or a NACK's command status). 400 for a missing id or an unknown type; 500 when
// Redis fails (Kannel tries again with http-request-retry).
func (t *Transport) DLRHandler(ch *sms.Channel, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := t.read(w, r, log); !ok {
			return
		}
		q := r.URL.Query()
		id := q.Get("id")
		typ, err := strconv.Atoi(q.Get("type"))
		status, known := dlrStatus[typ]
		if id == "" || len(id) > 64 || err != nil || !known {
			http.Error(w, "id and a Kannel report type (1, 2, 4, 8, 16) required", http.StatusBadRequest)
			return
		}
		code := ""
		if status == "undelivered" || status == "failed" {
			code = errorCode(q.Get("reply"))
		}
		if err := ch.RecordDelivery(r.Context(), t.Name(), id, status, code); err != nil {
			log.Error("kannel delivery report not recorded", "sid", id, "err", err)
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// errorCode extracts an error code from the SMSC's reply: "err:NNN" of an SMPP delivery receipt,
// or the command status of a NACK ("NACK/0x0000000b/Invalid Destination Address" → "0x0000000b").
func errorCode(reply string) string {
	if i := strings.Index(reply, "err:"); i >= 0 {
		return token(reply[i+4:])
	}
	if rest, ok := strings.CutPrefix(reply, "NACK/"); ok {
		return token(rest)
	}
	return ""
}

func token(s string) string {
	end := 0
	for end < len(s) && end < 16 && (s[end] >= '0' && s[end] <= '9' || s[end] >= 'a' && s[end] <= 'z' || s[end] >= 'A' && s[end] <= 'Z') {
		end++
	}
	return s[:end]
}
