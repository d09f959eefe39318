package bot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// httpDoer is what the library calls to make a request (tgbotapi.HTTPClient).
type httpDoer interface {
	Do(req *http.Request) (*http.Response, error)
}

// api returns a copy of the library client whose every request carries ctx (with timeout, if
// positive), so cancelling ctx aborts a long poll or a send in flight. The library builds its
// requests without a context; the copy's Client adds it.
func (b *Bot) api(ctx context.Context, timeout time.Duration) *tgbotapi.BotAPI {
	c := *b.base
	c.Client = ctxDoer{ctx: ctx, timeout: timeout, next: b.doer}
	return &c
}

// ctxDoer binds requests to a context and reports precisely whether a failed request may have
// reached Telegram: errors before the request was fully written are *notSentError.
type ctxDoer struct {
	ctx     context.Context
	timeout time.Duration
	next    httpDoer
}

func (d ctxDoer) Do(req *http.Request) (*http.Response, error) {
	ctx := d.ctx
	cancel := context.CancelFunc(func() {})
	if d.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, d.timeout)
	}
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				wrote.Store(true)
			}
		},
	})
	resp, err := d.next.Do(req.WithContext(ctx))
	if err != nil {
		cancel()
		if !wrote.Load() {
			return nil, &notSentError{err: err}
		}
		return nil, err
	}
	// A proxy or an overloaded server may answer 5xx or 429 with an HTML page: the library
	// would fail decoding it. Report the status instead.
	if resp.StatusCode >= 300 && !isJSON(resp.Header.Get("Content-Type")) {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		cancel()
		return nil, &statusError{code: resp.StatusCode}
	}
	resp.Body = cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// notSentError is a transport failure before the request was written: retrying cannot deliver
// twice.
type notSentError struct{ err error }

func (e *notSentError) Error() string { return "request not sent: " + e.err.Error() }
func (e *notSentError) Unwrap() error { return e.err }

// statusError is an HTTP error status whose body was not a Bot API answer.
type statusError struct{ code int }

func (e *statusError) Error() string { return fmt.Sprintf("HTTP status %d", e.code) }

// apiError returns the Bot API error in err's chain, or nil.
func apiError(err error) *tgbotapi.Error {
	var te *tgbotapi.Error
	if errors.As(err, &te) {
		return te
	}
	return nil
}
