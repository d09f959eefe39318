package zalo

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The reply window, as Zalo's OA help states it: after a user's message the OA may answer with
// up to 8 messages within 48 hours, free; the count starts again with each new message from the
// user. Anything beyond counts as a proactive message (quota'd, paid), which this gateway does
// not send on its own: it uses ZNS where configured, or reports the recipient as outside the
// window.
const (
	ReplyWindow   = 48 * time.Hour
	ReplyMessages = 8
	// replyTTL keeps a user's window record a while after it closed (for logs and reports).
	replyTTL = 7 * 24 * time.Hour
	keyWin   = "zalo:{zalo}:win:" // + user id: hash in (unix ms), n (sent since), mid (last msg_id)
)

// touchScript records an inbound message: a newer one reopens the window with a zero count.
// KEYS[1] window. ARGV at ms, msg id, ttl ms.
var touchScript = redis.NewScript(`
local cur = tonumber(redis.call('HGET', KEYS[1], 'in') or '0')
if tonumber(ARGV[1]) >= cur then
  redis.call('HSET', KEYS[1], 'in', ARGV[1], 'n', 0, 'mid', ARGV[2])
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`)

// reserveScript takes n messages of the window, all or none. KEYS[1] window. ARGV now ms,
// window ms, limit, n. Returns {left, msg id}, or {-1} no message from the user, {-2} window
// over, {-3} too many messages.
var reserveScript = redis.NewScript(`
local at = tonumber(redis.call('HGET', KEYS[1], 'in') or '0')
if at == 0 then return {-1, ''} end
if tonumber(ARGV[1]) - at > tonumber(ARGV[2]) then return {-2, ''} end
local sent = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
local n = tonumber(ARGV[4])
if sent + n > tonumber(ARGV[3]) then return {-3, ''} end
redis.call('HINCRBY', KEYS[1], 'n', n)
return {tonumber(ARGV[3]) - sent - n, redis.call('HGET', KEYS[1], 'mid') or ''}
`)

// giveBackScript returns n reserved messages that were not sent. KEYS[1] window. ARGV n.
var giveBackScript = redis.NewScript(`
local sent = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
if sent > 0 then redis.call('HSET', KEYS[1], 'n', math.max(sent - tonumber(ARGV[1]), 0)) end
return 1
`)

// touch notes a message from user at t (msgID may be empty: a follow).
func (c *Channel) touch(ctx context.Context, user string, t time.Time, msgID string) error {
	err := touchScript.Run(ctx, c.rdb, []string{keyWin + user}, t.UnixMilli(), msgID, replyTTL.Milliseconds()).Err()
	if err != nil {
		return fmt.Errorf("zalo: reply window: %w", err)
	}
	return nil
}

// windowReason explains why a reservation failed, as the broadcast report shows it.
const reasonOutsideWindow = "outside_reply_window"

// reserve takes n messages of user's window. ok is false when they do not fit (why says which
// rule); msgID is the user's last message, which replies refer to.
func (c *Channel) reserve(ctx context.Context, user string, n int) (ok bool, msgID, why string, err error) {
	res, err := reserveScript.Run(ctx, c.rdb, []string{keyWin + user}, c.now().UnixMilli(),
		ReplyWindow.Milliseconds(), ReplyMessages, n).Slice()
	if err != nil {
		return false, "", "", fmt.Errorf("zalo: reply window: %w", err)
	}
	code, _ := res[0].(int64)
	switch code {
	case -1:
		return false, "", "the user has not written to the OA", nil
	case -2:
		return false, "", "more than 48 hours since the user's last message", nil
	case -3:
		return false, "", "already " + strconv.Itoa(ReplyMessages) + " messages since the user's last message", nil
	}
	id, _ := res[1].(string)
	return true, id, "", nil
}

func (c *Channel) giveBack(ctx context.Context, user string, n int) {
	if n <= 0 {
		return
	}
	if err := giveBackScript.Run(context.WithoutCancel(ctx), c.rdb, []string{keyWin + user}, n).Err(); err != nil {
		c.log.Warn("zalo: reply window not given back", "user", maskID(user), "err", err)
	}
}
