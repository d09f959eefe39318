// Package cases keeps what citizens bring to the department that needs a person: complaints and
// feedback, requests to talk to an officer (a live hand-off during office hours, a callback
// outside them) — each a case with a code the citizen can follow (PA-2026-000012), a timeline,
// working-day deadlines, and staff answers that go back on the channel the case came from.
//
// The Service is the one place cases are read and changed. Every staff action takes a Principal
// (who acts, and which communes they may see) so that the staff HTTP API here, the staff commands
// on Telegram and a browser console call the same functions with the same checks. Citizens' sides
// (opening a case from a conversation, following it with PA <code>, talking to staff during a
// hand-off) take the channel address instead: a case is shown only to the address that opened it.
//
// Storage is Redis. A case is a hash and its timeline a list; sorted sets index them by status,
// kind, commune, citizen address, due time and retention. Every key carries the hash tag {cases},
// so on a Redis Cluster all of them live in one slot and each change — the event appended, the
// status moved between indexes, the deadlines rescheduled — is one atomic Lua script; no command
// spans slots. Codes come from a per-year counter that is never reset or deleted: a code is never
// given twice, even after its case is deleted at the end of its retention.
//
// Texts in cases are personal data: this package never logs them (nor addresses, which it masks);
// logs carry codes, kinds, statuses and counts.
package cases

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/socialaid-vn/gateway"
	"github.com/socialaid-vn/gateway/i18n"
)

// Kind is what a case is about.
type Kind string

// The kinds of case.
const (
	Complaint Kind = "complaint" // khiếu nại, phản ánh: money not received, a decision disputed
	Feedback  Kind = "feedback"  // góp ý: a suggestion or remark
	Handoff   Kind = "handoff"   // a person asked for an officer during office hours
	Callback  Kind = "callback"  // the same outside office hours: an officer gets back to them
)

// Kinds lists every kind, in the order reports show them.
var Kinds = []Kind{Complaint, Feedback, Handoff, Callback}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool { return slices.Contains(Kinds, k) }

// Status is where a case stands.
type Status string

// The statuses of a case. A new case is open; assigning it makes it assigned; a staff reply makes
// it answered; a citizen writing again after an answer puts it back to assigned (or open). Closed
// is final until reopened.
const (
	Open     Status = "open"
	Assigned Status = "assigned"
	Answered Status = "answered"
	Closed   Status = "closed"
)

// Statuses lists every status, in the order reports show them.
var Statuses = []Status{Open, Assigned, Answered, Closed}

// Valid reports whether s is one of Statuses.
func (s Status) Valid() bool { return slices.Contains(Statuses, s) }

// EventType is what happened in one timeline event.
type EventType string

// The events of a timeline.
const (
	EventMessage  EventType = "message"  // the citizen wrote (or staff entered what the citizen said)
	EventReply    EventType = "reply"    // staff answered the citizen (sent on the case's channel)
	EventNote     EventType = "note"     // an internal note, never shown to the citizen
	EventAssign   EventType = "assign"   // the case was given to someone
	EventStatus   EventType = "status"   // closed (with the resolution, sent to the citizen) or reopened
	EventReturned EventType = "returned" // the citizen left the hand-off and went back to the bot
	EventReminder EventType = "reminder" // a deadline passed and staff were reminded
)

// Delivery is what became of a message to the citizen (a reply, a closing notice).
type Delivery struct {
	// State is queued (on its way), sent (the provider accepted it), undeliverable (the person
	// blocked the bot, opted out of SMS, or the channel cannot send) or failed (the provider
	// refused it or did not answer; see Reason).
	State  string    `json:"state"`
	Reason string    `json:"reason,omitempty"` // blocked, opted_out, no_channel, invalid_number, ...
	At     time.Time `json:"at"`
}

// The states of a Delivery.
const (
	DeliveryQueued        = "queued"
	DeliverySent          = "sent"
	DeliveryUndeliverable = "undeliverable"
	DeliveryFailed        = "failed"
)

// Event is one entry of a case's timeline.
type Event struct {
	N      int       `json:"n"` // 1, 2, ... in order
	At     time.Time `json:"at"`
	Type   EventType `json:"type"`
	Author string    `json:"author"` // "citizen", "system", or the staff principal's ID
	Text   string    `json:"text,omitempty"`
	To     string    `json:"to,omitempty"` // assign: the new assignee
	// From and Status are set when the event changed the case's status.
	From     Status    `json:"from,omitempty"`
	Status   Status    `json:"status,omitempty"`
	Delivery *Delivery `json:"delivery,omitempty"`
}

// Case is one case. In lists (Summary) the address is masked and the timeline left out.
type Case struct {
	Code    string          `json:"code"`
	Kind    Kind            `json:"kind"`
	Status  Status          `json:"status"`
	Channel gateway.Channel `json:"channel"`
	// Address is the citizen's address on Channel (a Telegram chat id, a phone number in E.164);
	// empty for a case staff entered without one. Personal data.
	Address     string `json:"address,omitempty"`
	Lang        string `json:"lang"`
	Commune     string `json:"commune,omitempty"`
	Application string `json:"application_code,omitempty"` // verified by the citizen in the same conversation
	Assignee    string `json:"assignee,omitempty"`
	// Text is what the citizen first said (the complaint); the timeline has the rest.
	Text       string     `json:"text"`
	Source     string     `json:"source"` // "citizen" (opened in a conversation) or "staff" (entered by staff)
	Created    time.Time  `json:"created_at"`
	Updated    time.Time  `json:"updated_at"`
	FirstDue   time.Time  `json:"first_response_due"`
	ResolveDue time.Time  `json:"resolve_due"`
	FirstAt    *time.Time `json:"first_response_at,omitempty"`
	ClosedAt   *time.Time `json:"closed_at,omitempty"`
	Resolution string     `json:"resolution,omitempty"`
	// Overdue: no first response by FirstDue, or not closed by ResolveDue.
	Overdue bool `json:"overdue"`
	// Live: a hand-off in progress — the citizen's messages go into this case.
	Live     bool    `json:"live,omitempty"`
	Timeline []Event `json:"timeline,omitempty"`
}

// Due is the deadline that matters now: the first response's until there is one (when it comes
// before the resolution's), then the resolution's.
func (c *Case) Due() time.Time {
	if c.FirstAt == nil && c.FirstDue.Before(c.ResolveDue) {
		return c.FirstDue
	}
	return c.ResolveDue
}

// LatestReply is the last staff reply of a timeline that Get returned, or nil.
func (c *Case) LatestReply() *Event {
	for i := len(c.Timeline) - 1; i >= 0; i-- {
		if c.Timeline[i].Type == EventReply {
			return &c.Timeline[i]
		}
	}
	return nil
}

// Principal is someone acting on cases: a staff member (on Telegram, in the console), or the
// holder of ADMIN_TOKEN. Every staff function of the Service takes one and checks it.
type Principal struct {
	// ID names the principal in timelines and as an assignee: "admin", "telegram:123456",
	// "console:lan.nguyen". It must not be empty.
	ID string
	// Communes are the communes whose cases the principal may see and act on; nil means every
	// commune (and cases with no commune). A principal restricted to communes never learns that
	// cases elsewhere exist: they are "not found".
	Communes []string
	// ReadOnly principals may list and read cases but not act on them (ErrForbidden).
	ReadOnly bool
}

// Admin is the principal of the ADMIN_TOKEN: every commune, every action.
var Admin = Principal{ID: "admin"}

// Sees reports whether p may see a case of commune.
func (p Principal) Sees(commune string) bool {
	if p.Communes == nil {
		return true
	}
	key := i18n.Key(commune)
	for _, c := range p.Communes {
		if i18n.Key(c) == key {
			return true
		}
	}
	return false
}

// Errors of the Service. The HTTP API maps them to 400, 403, 404 and 409.
var (
	ErrInvalid   = errors.New("invalid")
	ErrNotFound  = errors.New("case not found")
	ErrConflict  = errors.New("conflict")
	ErrForbidden = errors.New("forbidden")
)

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// MaxText is the longest text of one message, reply, note or resolution, in characters. The
// first text of a case (several messages of a complaint together) may be up to MaxCaseText.
const (
	MaxText     = 2000
	MaxCaseText = 4000
	// MaxEvents bounds a timeline: beyond it a citizen's messages are refused (the citizen is
	// told to wait for the officer), so that nobody can fill the store through a hand-off.
	MaxEvents = 500
)

// cleanText checks a text for the store: valid UTF-8, trimmed, not empty, at most max
// characters. field names it in the error.
func cleanText(field, s string, max int) (string, error) {
	if !validUTF8(s) {
		return "", invalid("%s is not valid UTF-8 text", field)
	}
	s = strings.TrimSpace(strings.ReplaceAll(s, "\x00", ""))
	if s == "" {
		return "", invalid("%s is empty", field)
	}
	if n := len([]rune(s)); n > max {
		return "", invalid("%s has %d characters, at most %d", field, n, max)
	}
	return s, nil
}

// Clip cuts s to at most max characters at a word boundary where it can, for a text that must
// fit (a conversation's complaint text), cleaning invalid UTF-8 first.
func Clip(s string, max int) string {
	s = strings.TrimSpace(strings.ToValidUTF8(s, " "))
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	cut := max
	for i := max; i > max*3/4; i-- {
		if r[i] == ' ' || r[i] == '\n' {
			cut = i
			break
		}
	}
	return strings.TrimSpace(string(r[:cut]))
}
