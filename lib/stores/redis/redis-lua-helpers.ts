/*
 * The Lua functions every script of RedisStore starts with (redis-scripts.ts, redis-limit-scripts.ts).
 *
 * Numbers cross into Redis as decimal strings: Lua turns a number argument of redis.call into text with too few
 * digits for a millisecond timestamp, so computed times go through `int()`.
 */

/** Prepended to every script: `int`, `extend`, `extendWritten`, `hashOf`, `valueIn`, `expiry`. */
export const LUA_HELPERS = `
local function int(n) return string.format('%.0f', n) end
-- Moves the key's expiry later, never earlier; a key without a TTL gets one; an absent key stays absent.
local function extend(key, at)
  local current = redis.call('PEXPIRETIME', key)
  if current == -1 or (current >= 0 and current < tonumber(at)) then
    redis.call('PEXPIREAT', key, int(tonumber(at)))
  end
end
-- As extend, for a key the script has just written (so present): one command when the expiry moves later, the
-- usual case. GT leaves a key without a TTL alone (an infinite TTL to it): NX gives it one.
local function extendWritten(key, at)
  local ms = int(tonumber(at))
  if redis.call('PEXPIREAT', key, ms, 'GT') == 0 then redis.call('PEXPIREAT', key, ms, 'NX') end
end
-- The hash, flat; empty when the key is absent or of another type (written by someone else): no session either way.
-- The type is caught as an error rather than asked for: one command less on every call.
local function hashOf(key)
  local record = redis.pcall('HGETALL', key)
  if record['err'] then return {} end
  return record
end
-- A field's value in a flat hash, or nil.
local function valueIn(record, name)
  for i = 1, #record, 2 do
    if record[i] == name then return record[i + 1] end
  end
  return nil
end
-- The session's expiry, and the values read with its times in one HMGET: {idleExpiresAt, absoluteExpiresAt, then
-- the fields named}; nil when the key is absent, not a hash (caught, as in hashOf) or its times are not numbers.
local function expiry(key, ...)
  local t = redis.pcall('HMGET', key, 'idleExpiresAt', 'absoluteExpiresAt', ...)
  if t['err'] then return nil, nil end
  local idle, absolute = tonumber(t[1]), tonumber(t[2])
  if idle == nil or absolute == nil then return nil, nil end
  return math.min(idle, absolute), t
end
`;
