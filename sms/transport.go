package sms

import (
	"context"
	"time"
)

// Transport carries outbound SMS to one provider (sms/twilio, sms/kannel). By the time Submit is
// called the channel has rendered the text within the budget, checked consent, claimed the
// message's idempotency key and waited for the shared rate limit; the transport makes exactly
// one attempt and says what became of it. Retrying is the channel's business.
type Transport interface {
	// Name is the transport's short name ("twilio", "kannel"), for logs and inbound ids.
	Name() string
	// Submit makes one attempt to hand msg to the provider. On acceptance it returns the
	// message's id (the one its delivery reports will carry) and the provider's status for it
	// ("queued", "sent", ...). Otherwise the error is a *gateway.SendError:
	//
	//   - Retryable only when the answer proves the provider did not take the message
	//     (connection refused before the request was written, throttled, a temporary failure),
	//     with RetryAfter when the provider asked for a wait;
	//   - Unknown when it may have taken it (a timeout or a lost connection after the request
	//     was written, an unreadable success answer): it is never resent on its own. The
	//     Submitted returned with it carries the id the message's reports would use, if any;
	//   - Stopped "opted_out" when the recipient opted out with the provider;
	//   - Final for everything a retry would not change (invalid number, bad credentials).
	Submit(ctx context.Context, msg Message) (Submitted, error)
}

// Message is one rendered SMS for a transport.
type Message struct {
	To       string   // E.164
	Text     string   // the whole text; the provider splits it into Segments parts
	Encoding Encoding // GSM7 unless the text holds a character outside GSM 03.38
	Segments int
}

// Submitted is what a provider answered when it accepted a message.
type Submitted struct {
	ID     string // the provider's message id (Twilio's MessageSid), or one the transport made
	Status string // the status to record ("" = queued)
}

// Settler is implemented by a Transport whose delivery reports settle a send that ended
// Unknown: the provider reports every message it takes, in the order it took them (Kannel). A
// report for the message itself proves the provider had it (its key counts as sent); reports
// for messages submitted more than SettleAfter after it, and none for it, prove the provider
// does not hold it, so it may be sent again. Until one or the other, a keyed send stays in
// doubt and Send answers Retryable "in_doubt", so that a broadcast waits instead of failing
// the person or sending twice.
type Settler interface {
	SettleAfter() time.Duration
}
