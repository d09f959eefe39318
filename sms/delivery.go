package sms

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNotFound is returned by Delivery for a MessageSid this channel did not send, or whose record
// expired (30 days after its last status).
var ErrNotFound = errors.New("sms: message not found")

// Delivery is what is known of one outbound message's delivery.
type Delivery struct {
	SID string
	// Status is Twilio's MessageStatus: queued, sending, sent, delivered, undelivered, failed, ...
	// It never goes back to an earlier status when Twilio's callbacks arrive out of order.
	Status string
	// ErrorCode is Twilio's error code for undelivered or failed messages ("30003"), else "".
	ErrorCode string
	// Key is the Outbound.Key the message was sent under ("" if none).
	Key     string
	Updated time.Time
}

// Delivery returns the recorded delivery of the outbound message sid (from SendMessage or a
// status callback). ErrNotFound when there is no record.
func (c *Channel) Delivery(ctx context.Context, sid string) (Delivery, error) {
	h, err := c.rdb.HGetAll(ctx, keyMessage+sid).Result()
	if err != nil {
		return Delivery{}, fmt.Errorf("sms: delivery %s: %w", sid, err)
	}
	if len(h) == 0 {
		return Delivery{}, ErrNotFound
	}
	d := Delivery{SID: sid, Status: h["status"], ErrorCode: h["error_code"], Key: h["key"]}
	d.Updated, _ = time.Parse(time.RFC3339, h["updated"])
	return d, nil
}
