// Package gateway holds the domain types every part of the citizen self-service gateway speaks:
// an inbound message from a citizen, the replies the conversation core gives, an outbound message
// for a channel to deliver, and the one error vocabulary every sender maps provider errors into.
//
// A message flows one way: a channel adapter (bot/, sms/, the terminal chat) turns a provider's
// payload into an Inbound, the conversation core (dialogue/) answers with Replies, and the channel
// renders them (Telegram HTML with buttons, unaccented SMS within its segment budget). This package
// imports no infrastructure; packages that wrap Redis or a provider depend on it, never the reverse.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Channel names where a message came from or goes to.
type Channel string

// The channels the gateway knows. Terminal is the `gateway chat` command; it renders like one of
// the others (chosen with --channel) but is its own channel for state and metrics.
const (
	Telegram Channel = "telegram"
	SMS      Channel = "sms"
	Terminal Channel = "terminal"
	Zalo     Channel = "zalo"
	// Web is the web chat on the department's portal (package webchat).
	Web Channel = "web"
)

// Valid reports whether c is one of the known channels.
func (c Channel) Valid() bool {
	return c == Telegram || c == SMS || c == Terminal || c == Zalo || c == Web
}

// Inbound is one message from a citizen, as a channel adapter hands it to the conversation core.
type Inbound struct {
	Channel Channel
	// SenderID identifies the person on the channel: the Telegram user id, the phone number in
	// E.164 for SMS, a name for the terminal. Conversation state and language preference are
	// keyed by (Channel, SenderID). It is personal data: never log it unmasked.
	SenderID string
	// Text is what the person wrote, or the payload of the button they pressed.
	Text string
	// Lang is a language hint from the channel ("vi", "en" or ""), e.g. Telegram's language_code.
	// A preference the person chose in the conversation wins over it.
	Lang string
	// Contact is set when the person shared a phone number through the channel (Telegram's
	// request_contact button). The adapter sets Own only when the channel proves the number is
	// the sender's own (contact.user_id equals the sender).
	Contact *Contact
	// Intent and Entities are set by an adapter that has already understood the message with a
	// strict grammar (an SMS keyword such as "TT TB-2025-000123 4567"); the core then skips
	// free-text understanding. Empty Intent means "understand Text".
	Intent   string
	Entities map[string]string
	// MessageID is the provider's id of the message, for logs and idempotency.
	MessageID string
	Received  time.Time
	// Once, when set, makes the core answer the message at most once, in its own round trips
	// to Redis (the channel spends none on it): see Once.
	Once *Once
}

// Once is a channel's replay protection, done by the core in the same Redis round trips as its
// own reads and writes: Key is claimed (SET NX, for Claim) before the turn — a key already
// claimed makes Handle return ErrClaimed and answer nothing — and after the turn it holds
// "1" + Remember(replies) for Keep, so that a second delivery gets the same answer. When the turn
// fails the claim stays (for Claim): the caller deletes it to let a retry run afresh.
type Once struct {
	Key      string
	Claim    time.Duration
	Keep     time.Duration
	Remember func([]Reply) string
}

// ErrClaimed is Handle's answer for a message whose Once key another delivery claimed.
var ErrClaimed = errors.New("message already claimed by another delivery")

// Contact is a phone number shared through a channel.
type Contact struct {
	Phone string // as the channel gave it; normalise before use
	Own   bool   // the channel proved it is the sender's own number
}

// Reply is one answer from the conversation core, channel-neutral.
type Reply struct {
	// Text is the full answer: plain text, paragraphs separated by blank lines. Channels with
	// room (Telegram, terminal) show it as is.
	Text string
	// Short is the same answer written for SMS (few words, no buttons to rely on). Empty means
	// Text is short enough. The SMS renderer folds its diacritics and fits it to the budget.
	Short string
	// Choices are the options the person can pick next: buttons on Telegram, a numbered or
	// keyword list in text channels.
	Choices []Choice
	// RequestContact asks the channel to offer a "share my phone number" button where it can.
	RequestContact bool
	// Intent is what the core understood, for metrics and logs ("" when not applicable).
	Intent string
	// Lang is the language the core answered in ("vi", "en"), for the texts a channel adds
	// around the answer (a button label, a keyboard hint).
	Lang string
	// Params are the values of a notification that channels sending pre-approved templates
	// (Zalo ZNS) fill the template with: {"code", "status"} for a status change, {"commune",
	// "date", "time", "place"} for a payment reminder. Nil for ordinary answers.
	Params map[string]string `json:",omitempty"`
	// Whole asks a channel with a length limit to deliver all of the text, split over several
	// messages where needed, rather than shorten it to one (a staff answer to a case).
	Whole bool
}

// Choice is one option offered with a reply.
type Choice struct {
	Label   string // what the person sees
	Payload string // what comes back as Inbound.Text when picked (a menu code such as "/menu")
	Keyword string // the SMS keyword for the same thing, if there is one ("LICH")
}

// Outbound is a message to deliver on a channel outside a direct reply: a broadcast, a
// status-change notification, a payment-day reminder. Replies to citizens are Outbound too when a
// channel sends them through its REST API (Telegram), with Priority set.
type Outbound struct {
	Channel Channel
	To      string // Telegram chat id or E.164 phone number
	Lang    string
	Reply   Reply
	// Priority marks a reply to a citizen, which goes ahead of bulk traffic under rate limits.
	Priority bool
	// Key identifies this message for idempotency (a broadcast id plus recipient, say);
	// senders may use it to avoid sending the same message twice.
	Key string
}

// Sender delivers outbound messages on one channel. Every implementation maps provider errors to
// *SendError so that callers (broadcast workers, notifiers) decide the same way for every channel.
type Sender interface {
	Send(ctx context.Context, m Outbound) error
}

// SendError is the one error vocabulary for sending, whatever the provider.
//
// Final errors will not succeed if retried (the recipient blocked the bot or opted out, the number
// is invalid); Stopped additionally means the recipient must be removed from every audience until
// they come back. Retryable errors (throttled, connection failed, provider 5xx) may succeed later;
// RetryAfter, when set, is the wait the provider asked for. Unknown means the request may or may
// not have reached the provider (a timeout after sending): retrying could deliver twice.
type SendError struct {
	Kind       SendErrorKind
	Reason     string // short machine-readable reason, e.g. "blocked", "opted_out", "throttled"
	RetryAfter time.Duration
	Err        error
}

// SendErrorKind classifies a SendError.
type SendErrorKind int

// The kinds of send failure.
const (
	Retryable SendErrorKind = iota + 1
	Final
	Stopped
	Unknown
)

func (k SendErrorKind) String() string {
	switch k {
	case Retryable:
		return "retryable"
	case Final:
		return "final"
	case Stopped:
		return "stopped"
	case Unknown:
		return "unknown"
	}
	return "invalid"
}

func (e *SendError) Error() string {
	msg := fmt.Sprintf("send %s: %s", e.Kind, e.Reason)
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *SendError) Unwrap() error { return e.Err }

// SendErrorOf returns the *SendError in err's chain, or nil.
func SendErrorOf(err error) *SendError {
	var se *SendError
	if errors.As(err, &se) {
		return se
	}
	return nil
}

// IsRetryable reports whether err may succeed if the same send is tried again later.
func IsRetryable(err error) bool {
	se := SendErrorOf(err)
	return se != nil && se.Kind == Retryable
}

// Mask hides most of an identifier for logs and audit records: a phone number, a chat id, an
// application code. It keeps the first three and last two characters ("+8491*****67"); values of
// six characters or fewer become "***". Names and citizen ID numbers are never logged at all.
func Mask(s string) string {
	r := []rune(s)
	if len(r) <= 6 {
		return "***"
	}
	out := make([]rune, 0, len(r))
	out = append(out, r[:3]...)
	for range r[3 : len(r)-2] {
		out = append(out, '*')
	}
	return string(append(out, r[len(r)-2:]...))
}
