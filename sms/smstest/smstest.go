// Package smstest is for tests of the SMS channel and its transports: a stand-in conversation
// core and consent store; for Twilio, a request signer that signs webhook requests the way Twilio
// does, Twilio's incoming-message payload, a TwiML reader and a fake Twilio REST API. (Tests
// against the real Kannel use sms/kannel/kanneltest.)
package smstest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
)

// Sign computes X-Twilio-Signature the way Twilio documents it: HMAC-SHA1 keyed with the auth
// token over the full URL followed by every POST parameter name and value, sorted by name,
// base64-encoded. It is written independently of twilio-go's validator on purpose.
func Sign(token, fullURL string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range keys {
		for _, v := range form[k] {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	h := hmac.New(sha1.New, []byte(token))
	h.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// NewRequest is a server-side POST of form to path, as Twilio sends it, carrying signature as
// X-Twilio-Signature.
func NewRequest(path string, form url.Values, signature string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", signature)
	return req
}

// InboundForm is a Twilio incoming-message payload (the fields Twilio posts) for account
// accountSID, sent to +84900000001.
func InboundForm(accountSID, sid, from, body string) url.Values {
	return url.Values{
		"ToCountry": {"VN"}, "SmsMessageSid": {sid}, "NumMedia": {"0"}, "SmsSid": {sid},
		"SmsStatus": {"received"}, "Body": {body}, "To": {"+84900000001"}, "NumSegments": {"1"},
		"MessageSid": {sid}, "AccountSid": {accountSID}, "From": {from}, "ApiVersion": {"2010-04-01"},
	}
}

// TwiMLMessage extracts the one <Message> text of a TwiML answer ("" when there is none); it
// fails the test when body is not TwiML or holds more than one message.
func TwiMLMessage(t testing.TB, body string) string {
	t.Helper()
	var doc struct {
		XMLName  xml.Name `xml:"Response"`
		Messages []string `xml:"Message"`
	}
	if err := xml.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("not TwiML: %v\n%s", err, body)
	}
	switch len(doc.Messages) {
	case 0:
		return ""
	case 1:
		return doc.Messages[0]
	}
	t.Fatalf("%d <Message> in one answer:\n%s", len(doc.Messages), body)
	return ""
}

// TwilioRequest is one request made to the fake Twilio REST API.
type TwilioRequest struct {
	Form url.Values // the posted parameters
	Path string     // method and path, as "POST /2010-04-01/..."
	User string     // the basic-auth user name
}

// Twilio is a fake of Twilio's Messages endpoint: it records each request and answers with the
// next scripted response (Created once the script is used up).
type Twilio struct {
	// URL is the server's base URL, the Twilio API URL to configure.
	URL string

	mu     sync.Mutex
	reqs   []TwilioRequest
	script []func(w http.ResponseWriter, r *http.Request)
}

// NewTwilio starts a fake Twilio REST API answering with script; it is closed when the test ends.
func NewTwilio(t testing.TB, script ...func(w http.ResponseWriter, r *http.Request)) *Twilio {
	f := &Twilio{script: script}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		user, _, _ := r.BasicAuth()
		f.mu.Lock()
		n := len(f.reqs)
		f.reqs = append(f.reqs, TwilioRequest{Form: form, Path: r.Method + " " + r.URL.Path, User: user})
		var step func(http.ResponseWriter, *http.Request)
		if n < len(f.script) {
			step = f.script[n]
		}
		f.mu.Unlock()
		if step == nil {
			step = Created
		}
		step(w, r)
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// Calls is the number of requests made so far.
func (f *Twilio) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

// Requests returns the requests made so far, in order.
func (f *Twilio) Requests() []TwilioRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]TwilioRequest(nil), f.reqs...)
}

var sidCounter struct {
	sync.Mutex
	n int
}

// Created answers as Twilio does when it accepts a message: 201 with a new message SID.
func Created(w http.ResponseWriter, r *http.Request) {
	sidCounter.Lock()
	sidCounter.n++
	sid := fmt.Sprintf("SM%032d", sidCounter.n)
	sidCounter.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `{"sid":%q,"status":"queued","to":%q,"num_segments":"1","error_code":null}`, sid, r.FormValue("To"))
}
