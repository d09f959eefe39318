package sms

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotFound is returned by Delivery for a message id this channel did not send, or whose record
// expired (30 days after its last status).
var ErrNotFound = errors.New("sms: message not found")

// Delivery is what is known of one outbound message's delivery.
type Delivery struct {
	// SID is the message id (Twilio's MessageSid, or the id the Kannel transport made).
	SID string
	// Status uses Twilio's vocabulary whatever the transport: queued, sending, sent, buffered
	// (the carrier holds it, the phone is unreachable for now), delivered, undelivered,
	// failed, ... It never goes back to an earlier status when reports arrive out of order.
	Status string
	// ErrorCode is the provider's error code for undelivered or failed messages ("30003",
	// an SMPP error), else "".
	ErrorCode string
	// Key is the Outbound.Key the message was sent under ("" if none).
	Key     string
	Updated time.Time
}

// Delivery returns the recorded delivery of the outbound message id (from SendMessage or a
// delivery report). ErrNotFound when there is no record.
func (c *Channel) Delivery(ctx context.Context, id string) (Delivery, error) {
	h, err := c.rdb.HGetAll(ctx, keyMessage+id).Result()
	if err != nil {
		return Delivery{}, fmt.Errorf("sms: delivery %s: %w", id, err)
	}
	if len(h) == 0 || h["status"] == "" {
		return Delivery{}, ErrNotFound
	}
	d := Delivery{SID: id, Status: h["status"], ErrorCode: h["error_code"], Key: h["key"]}
	d.Updated, _ = time.Parse(time.RFC3339, h["updated"])
	return d, nil
}

// RecordDelivery records a delivery report of the outbound message id, as a transport received
// it (Twilio's status callback, Kannel's dlr-url), never moving the message back to an earlier
// status, and calls Config.OnStatus. status is in Delivery's vocabulary.
func (c *Channel) RecordDelivery(ctx context.Context, transport, id, status, errorCode string) error {
	if err := c.recordStatus(ctx, id, status, errorCode, ""); err != nil {
		return fmt.Errorf("sms: delivery %s: %w", id, err)
	}
	if statusRank[status] >= statusRank["sent"] && transport != "" {
		// The provider took this message: every message submitted before it has been taken
		// or lost (see Settler).
		if at, err := c.rdb.HGet(ctx, keyMessage+id, "at").Result(); err == nil {
			if err := maxScript.Run(ctx, c.rdb, []string{keyConfirmed + transport}, at, int(deliveryTTL/time.Second)).Err(); err != nil {
				return fmt.Errorf("sms: delivery %s: %w", id, err)
			}
		}
	}
	c.log.Info("sms status", "transport", transport, "sid", id, "status", status, "error_code", errorCode)
	if c.cfg.OnStatus != nil {
		c.cfg.OnStatus(id, status, errorCode)
	}
	return nil
}

// statusRank orders delivery statuses so that a late report never moves a message backwards.
var statusRank = map[string]int{
	"accepted": 1, "scheduled": 1, "queued": 2, "sending": 3, "sent": 4, "buffered": 4,
	"delivered": 5, "undelivered": 5, "failed": 5, "read": 6, "canceled": 5, "unknown": 1,
}

// maxScript raises KEYS[1] to ARGV[1] (a number), with ARGV[2] seconds to live.
var maxScript = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end
return 1
`)

// recordScript sets status (and error_code, updated) unless the recorded status ranks higher;
// the key is recorded either way (a report may arrive before the send has recorded its key).
// The first record also notes when it was made ('at', Unix ms: about when the message was submitted).
// KEYS[1] hash; ARGV status, rank, error_code, updated, ttl seconds, key ("" = keep), now ms.
var recordScript = redis.NewScript(`
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'key', ARGV[6]) end
redis.call('HSETNX', KEYS[1], 'at', ARGV[7])
redis.call('EXPIRE', KEYS[1], ARGV[5])
local cur = redis.call('HGET', KEYS[1], 'rank')
if cur and tonumber(cur) > tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'rank', ARGV[2], 'error_code', ARGV[3], 'updated', ARGV[4])
return 1
`)

func (c *Channel) recordStatus(ctx context.Context, id, status, code, key string) error {
	rank, ok := statusRank[status]
	if !ok {
		rank = 1
	}
	now := time.Now()
	return recordScript.Run(ctx, c.rdb, []string{keyMessage + id},
		status, rank, code, now.UTC().Format(time.RFC3339), int(deliveryTTL/time.Second), key, now.UnixMilli()).Err()
}
