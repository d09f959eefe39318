package cases

import "github.com/redis/go-redis/v9"

// The Lua scripts that change cases. Each gets KEYS[1] = the case hash (or another {cases} key),
// so that a Redis Cluster routes it to the slot of the hash tag; the other keys it touches are
// derived from the prefix ARGV[1] and share that tag, hence that slot (as audience/ does). Empty
// optional fields are never written: an absent field is "not set".
const luaHelpers = `
local p = ARGV[1]
local function ik(dim, v) return p .. dim .. ':' .. v end
local function tkey(code) return p .. 't:' .. code end
-- sched keeps the due index (the deadline that matters now, for listing overdue cases) and the
-- alarm index (the next deadline nobody was reminded of yet) of a case.
local function sched(h, code)
  local f = redis.call('HMGET', h, 'status', 'first_at', 'first_due', 'resolve_due', 'rem_first', 'rem_resolve')
  if not f[1] or f[1] == 'closed' then
    redis.call('ZREM', p .. 'due', code)
    redis.call('ZREM', p .. 'alarm', code)
    return
  end
  local fd, rd = tonumber(f[3]), tonumber(f[4])
  local due = rd
  if not f[2] and fd < rd then due = fd end
  redis.call('ZADD', p .. 'due', due, code)
  local alarm = false
  if not f[2] and not f[5] then alarm = fd end
  if not f[6] and (not alarm or rd < alarm) then alarm = rd end
  if alarm then
    redis.call('ZADD', p .. 'alarm', alarm, code)
  else
    redis.call('ZREM', p .. 'alarm', code)
  end
end
local function setstatus(h, code, old, new, created)
  if old == new then return end
  redis.call('ZREM', ik('s', old), code)
  redis.call('ZADD', ik('s', new), created, code)
  redis.call('HSET', h, 'status', new)
end
local function push(code, ev) return redis.call('RPUSH', tkey(code), cjson.encode(ev)) end
local function unlive(h, code)
  local f = redis.call('HMGET', h, 'channel', 'address')
  if f[1] and f[2] then
    local lk = p .. 'live:' .. f[1] .. ':' .. f[2]
    if redis.call('GET', lk) == code then redis.call('DEL', lk) end
  end
  redis.call('HDEL', h, 'live', 'acked')
end
`

// openScript creates a case. ARGV: prefix, code, created(ms), created(text), kind, channel,
// address, lang, commune, commune key, application, text, source, author, first due(ms),
// resolve due(ms), purge at(ms), live(0|1). Returns 0 when the code exists (never expected).
var openScript = redis.NewScript(luaHelpers + `
local h, code = KEYS[1], ARGV[2]
if redis.call('EXISTS', h) == 1 then return 0 end
local created = ARGV[3]
redis.call('HSET', h, 'code', code, 'kind', ARGV[5], 'status', 'open', 'channel', ARGV[6], 'lang', ARGV[8],
  'ck', ARGV[10], 'text', ARGV[12], 'source', ARGV[13], 'created', created, 'updated', created,
  'first_due', ARGV[15], 'resolve_due', ARGV[16])
if ARGV[7] ~= '' then redis.call('HSET', h, 'address', ARGV[7]) end
if ARGV[9] ~= '' then redis.call('HSET', h, 'commune', ARGV[9]) end
if ARGV[11] ~= '' then redis.call('HSET', h, 'app', ARGV[11]) end
push(code, {at = ARGV[4], type = 'message', author = ARGV[14], text = ARGV[12]})
redis.call('ZADD', p .. 'all', created, code)
redis.call('ZADD', ik('s', 'open'), created, code)
redis.call('ZADD', ik('k', ARGV[5]), created, code)
redis.call('ZADD', ik('m', ARGV[10]), created, code)
if ARGV[7] ~= '' then redis.call('ZADD', p .. 'a:' .. ARGV[6] .. ':' .. ARGV[7], created, code) end
redis.call('ZADD', p .. 'purge', ARGV[17], code)
if ARGV[18] == '1' and ARGV[7] ~= '' then
  redis.call('SET', p .. 'live:' .. ARGV[6] .. ':' .. ARGV[7], code)
  redis.call('HSET', h, 'live', '1')
end
sched(h, code)
return 1
`)

// actScript records one action on a case. ARGV: prefix, code, action, now(ms), now(text),
// author, text, to, purge at(ms), max events.
//
//	message  a citizen's message (refused when closed, or when the timeline is full)
//	reply    a staff answer to the citizen: answered; the first one is the first response
//	note     an internal note (also on a closed case)
//	assign   to someone: open → assigned
//	close    with the resolution (text, may be empty): closed; ends a hand-off
//	reopen   a closed case: open, or assigned when it has an assignee
//	end      the citizen leaves the hand-off
//	resume   the citizen asks for a person again on this (not closed) case: live again
//
// Returns {"ok", n, status, first response (0|1), delivery queued (0|1), acknowledge (0|1)}, or
// {"notfound"}, {"closed"}, {"notclosed"}, {"notlive"}, {"full"}.
var actScript = redis.NewScript(luaHelpers + `
local h, code, action = KEYS[1], ARGV[2], ARGV[3]
local now, nowt, author, text, to = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local f = redis.call('HMGET', h, 'status', 'created', 'assignee', 'first_at', 'channel', 'address', 'acked', 'live')
local st = f[1]
if not st then return {'notfound'} end
local ev = {at = nowt, author = author}
local newst, first, ack = st, 0, 0
if action == 'message' then
  if st == 'closed' then return {'closed'} end
  if redis.call('LLEN', tkey(code)) >= tonumber(ARGV[10]) then return {'full'} end
  ev.type, ev.text = 'message', text
  if st == 'answered' then
    if f[3] then newst = 'assigned' else newst = 'open' end
  end
  if f[8] and not f[7] then
    redis.call('HSET', h, 'acked', '1')
    ack = 1
  end
elseif action == 'reply' then
  if st == 'closed' then return {'closed'} end
  ev.type, ev.text, newst = 'reply', text, 'answered'
  if not f[4] then first = 1 end
elseif action == 'note' then
  ev.type, ev.text = 'note', text
elseif action == 'assign' then
  if st == 'closed' then return {'closed'} end
  ev.type, ev.to = 'assign', to
  redis.call('HSET', h, 'assignee', to)
  if st == 'open' then newst = 'assigned' end
elseif action == 'close' then
  if st == 'closed' then return {'closed'} end
  ev.type, newst = 'status', 'closed'
  if text ~= '' then ev.text = text end
  if not f[4] then first = 1 end
  redis.call('HSET', h, 'closed_at', now)
  if text ~= '' then redis.call('HSET', h, 'resolution', text) end
  unlive(h, code)
elseif action == 'reopen' then
  if st ~= 'closed' then return {'notclosed'} end
  ev.type = 'status'
  if f[3] then newst = 'assigned' else newst = 'open' end
  redis.call('HDEL', h, 'closed_at', 'resolution')
elseif action == 'end' then
  if not f[8] then return {'notlive'} end
  ev.type = 'returned'
  unlive(h, code)
elseif action == 'resume' then
  if st == 'closed' then return {'closed'} end
  if not f[5] or not f[6] then return {'notlive'} end
  ev.type, ev.text = 'message', text
  if st == 'answered' then
    if f[3] then newst = 'assigned' else newst = 'open' end
  end
  redis.call('SET', p .. 'live:' .. f[5] .. ':' .. f[6], code)
  redis.call('HSET', h, 'live', '1')
  redis.call('HDEL', h, 'acked')
else
  return redis.error_reply('unknown action ' .. action)
end
if newst ~= st then
  ev.from, ev.status = st, newst
  setstatus(h, code, st, newst, f[2])
end
if first == 1 then redis.call('HSET', h, 'first_at', now) end
local n = push(code, ev)
redis.call('HSET', h, 'updated', now)
local queued = 0
if (action == 'reply' or (action == 'close' and text ~= '')) and f[6] then
  redis.call('HSET', h, 'd:' .. n, cjson.encode({state = 'queued', at = nowt}))
  redis.call('ZADD', p .. 'dlv', now, code .. '|' .. n)
  queued = 1
end
redis.call('ZADD', p .. 'purge', ARGV[9], code)
sched(h, code)
return {'ok', n, newst, first, queued, ack}
`)

// remindScript marks the deadlines of a case that passed without anyone being reminded.
// ARGV: prefix, code, now(ms), now(text). Returns {newly overdue (0|1), "first"?, "resolve"?}.
var remindScript = redis.NewScript(luaHelpers + `
local h, code, now = KEYS[1], ARGV[2], tonumber(ARGV[3])
local f = redis.call('HMGET', h, 'status', 'first_at', 'first_due', 'resolve_due', 'rem_first', 'rem_resolve', 'overdue_at')
if not f[1] then
  redis.call('ZREM', p .. 'alarm', code)
  return {0}
end
local out = {}
if f[1] ~= 'closed' then
  if not f[2] and not f[5] and tonumber(f[3]) <= now then
    redis.call('HSET', h, 'rem_first', ARGV[3])
    table.insert(out, 'first')
  end
  if not f[6] and tonumber(f[4]) <= now then
    redis.call('HSET', h, 'rem_resolve', ARGV[3])
    table.insert(out, 'resolve')
  end
end
local newly = 0
if #out > 0 and not f[7] then
  redis.call('HSET', h, 'overdue_at', ARGV[3])
  newly = 1
end
for _, k in ipairs(out) do push(code, {at = ARGV[4], type = 'reminder', author = 'system', text = k}) end
sched(h, code)
return {newly, unpack(out)}
`)

// deliveredScript records the outcome of a queued delivery (only once: a state other than
// queued is kept). ARGV: prefix, code, event number, delivery JSON. Returns 1 when recorded.
var deliveredScript = redis.NewScript(luaHelpers + `
local h, code, n = KEYS[1], ARGV[2], ARGV[3]
redis.call('ZREM', p .. 'dlv', code .. '|' .. n)
local cur = redis.call('HGET', h, 'd:' .. n)
if not cur then return 0 end
if cjson.decode(cur).state ~= 'queued' then return 0 end
redis.call('HSET', h, 'd:' .. n, ARGV[4])
return 1
`)

// purgeScript deletes a case past its retention, with its timeline and index entries.
// ARGV: prefix, code. Returns 1 when a case was deleted.
var purgeScript = redis.NewScript(luaHelpers + `
local h, code = KEYS[1], ARGV[2]
redis.call('ZREM', p .. 'purge', code)
local f = redis.call('HMGET', h, 'status', 'kind', 'ck', 'channel', 'address')
if not f[1] then return 0 end
unlive(h, code)
redis.call('ZREM', ik('s', f[1]), code)
redis.call('ZREM', ik('k', f[2]), code)
redis.call('ZREM', ik('m', f[3]), code)
if f[4] and f[5] then redis.call('ZREM', p .. 'a:' .. f[4] .. ':' .. f[5], code) end
local n = redis.call('LLEN', tkey(code))
for i = 1, n do redis.call('ZREM', p .. 'dlv', code .. '|' .. i) end
redis.call('ZREM', p .. 'all', code)
redis.call('ZREM', p .. 'due', code)
redis.call('ZREM', p .. 'alarm', code)
redis.call('DEL', h, tkey(code))
return 1
`)
