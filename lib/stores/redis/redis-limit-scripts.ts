/*
 * The Lua of the bounds RedisStore applies (StoreLimits, trimUser), with the other scripts in redis-scripts.ts,
 * which defines them all and provides the helpers they use (`int`, `extendWritten`). Each touches one Cluster slot only: the
 * anonymous sets share the slot of the `anon` set (see RedisKeys.anonymousOf), a user's index is the user's.
 */

export const LIMIT_SCRIPTS = {
  /**
   * KEYS: anonymous set, the address's set. ARGV: key, maxAnonymous, keepUntil, maxPerAddress (-1: no bound) → the
   * keys evicted to stay within the bounds, which the caller takes: first the oldest of the same address past
   * maxPerAddress, then the oldest of all past maxAnonymous. Scored by the server's clock in microseconds, strictly
   * increasing, so that "oldest" is the order of storing.
   *
   * An address's entry missing from the anonymous set is a session already on its way out (evicted by another
   * call, destroyed or expired, its address entry not yet dropped): it leaves the address's set, and someone else
   * reports it.
   */
  IndexAnonymous: {
    keys: 2,
    lua: `
local now = redis.call('TIME')
local score = tonumber(now[1]) * 1000000 + tonumber(now[2])
local top = redis.call('ZREVRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if top[2] and tonumber(top[2]) >= score then score = tonumber(top[2]) + 1 end
redis.call('ZADD', KEYS[1], int(score), ARGV[1])
redis.call('ZADD', KEYS[2], int(score), ARGV[1])
extendWritten(KEYS[1], ARGV[3])
extendWritten(KEYS[2], ARGV[3])
local evicted = {}
local perAddress = tonumber(ARGV[4])
local over = redis.call('ZCARD', KEYS[2]) - perAddress
if perAddress >= 0 and over > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[2], over)
  for i = 1, #popped, 2 do
    if redis.call('ZREM', KEYS[1], popped[i]) == 1 then evicted[#evicted + 1] = popped[i] end
  end
end
local max = tonumber(ARGV[2])
over = redis.call('ZCARD', KEYS[1]) - max
if max >= 0 and over > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[1], over)
  for i = 1, #popped, 2 do
    redis.call('ZREM', KEYS[2], popped[i])
    evicted[#evicted + 1] = popped[i]
  end
end
return evicted`,
  },
  /**
   * KEYS: the user's index. ARGV: max, candidate keys... → {key, score, ...}: as many of the indexed candidates as
   * the index holds entries past max, oldest first (by creation time, then key, the order of ZRANGE), taken out of
   * the index in this one step so that a concurrent call counts them as gone and cannot take them too.
   */
  TrimUser: {
    keys: 1,
    lua: `
local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[1])
if excess <= 0 then return {} end
local found, seen = {}, {}
for i = 2, #ARGV do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and not seen[ARGV[i]] then
    seen[ARGV[i]] = true
    found[#found + 1] = {tonumber(score), ARGV[i], score}
  end
end
table.sort(found, function(a, b)
  if a[1] ~= b[1] then return a[1] < b[1] end
  return a[2] < b[2]
end)
local claimed = {}
for i = 1, math.min(excess, #found) do
  redis.call('ZREM', KEYS[1], found[i][2])
  claimed[#claimed + 1] = found[i][2]
  claimed[#claimed + 1] = found[i][3]
end
return claimed`,
  },
} as const;

/** The methods ioredis adds for {@link LIMIT_SCRIPTS}. */
export interface LimitScripts {
  nestjsConnectedIndexAnonymous(
    anonymous: string,
    address: string,
    key: string,
    maxAnonymous: string,
    keepUntil: string,
    maxPerAddress: string,
  ): Promise<string[]>;
  nestjsConnectedTrimUser(sessions: string, max: string, ...candidates: string[]): Promise<unknown>;
}
