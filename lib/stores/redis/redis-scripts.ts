import type { Cluster, Redis } from 'ioredis';
import { LIMIT_SCRIPTS, type LimitScripts } from './redis-limit-scripts.js';
import { LUA_HELPERS } from './redis-lua-helpers.js';

/*
 * The conditional writes of RedisStore, one Lua script each, so that a check and the write it guards are one atomic
 * step. Each script touches the keys of one Cluster slot only (a session hash, an expiry shard, the anonymous sets,
 * or one user's `{u:...}` keys), and names them all in KEYS. The scripts of the bounds are in redis-limit-scripts.ts,
 * the helpers they share in redis-lua-helpers.ts.
 *
 * Every command a script runs is one more for Redis: a script reads what its check needs in one command and writes
 * in as few as it can (see the README's table of costs, asserted by test/stores/redis-commands.spec.ts).
 */

interface ScriptSpec {
  readonly keys: number;
  readonly lua: string;
  readonly readOnly?: boolean;
}

const SCRIPTS = {
  /** KEYS: session. ARGV: pexpireat, field, value, ... → 1 when stored, 0 when the key was taken. */
  Create: {
    keys: 1,
    lua: `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1`,
  },
  /**
   * KEYS: user sessions, user. ARGV: key, createdAt, epoch, keepUntil → 1 when indexed; 0 when the record's epoch is
   * older than the user's (a login that read the epoch before a closeUser that has since run).
   */
  IndexUser: {
    keys: 2,
    lua: `
local stored = redis.call('HGET', KEYS[2], 'epoch')
local current = 0
if stored then current = tonumber(stored) end
if current == nil or current > tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
extendWritten(KEYS[1], ARGV[4])
extend(KEYS[2], ARGV[4])
return 1`,
  },
  /**
   * KEYS: expiry shard. ARGV: key, expiresAt, keepUntil (the session's absolute expiry and the grace, so that the
   * shard outlives every session it schedules). An entry only ever moves earlier (LT): one too early costs the
   * sweeper a look, one too late a late expiry; the sweeper takes an entry out before it puts it back later.
   */
  Schedule: {
    keys: 1,
    lua: `
redis.call('ZADD', KEYS[1], 'LT', ARGV[2], ARGV[1])
extendWritten(KEYS[1], ARGV[3])
return 1`,
  },
  /** KEYS: expiry shard. ARGV: now, limit → keys due, removed from the shard: this caller alone handles them. */
  ClaimDue: {
    keys: 1,
    lua: `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
return due`,
  },
  /** KEYS: session → its HGETALL, deleted; empty when absent. */
  Take: {
    keys: 1,
    lua: `
local record = hashOf(KEYS[1])
if #record > 0 then redis.call('DEL', KEYS[1]) end
return record`,
  },
  /** KEYS: session. ARGV: userId → as Take, but only a session of that user (closeUser's index may be stale). */
  TakeOfUser: {
    keys: 1,
    lua: `
local record = hashOf(KEYS[1])
if valueIn(record, 'userId') ~= ARGV[1] then return {} end
redis.call('DEL', KEYS[1])
return record`,
  },
  /** KEYS: session. ARGV: epoch → as Take, but only when the session's epoch is below it. */
  TakeIfEpochBelow: {
    keys: 1,
    lua: `
local record = hashOf(KEYS[1])
local epoch = tonumber(valueIn(record, 'epoch') or '')
if epoch == nil or epoch >= tonumber(ARGV[1]) then return {} end
redis.call('DEL', KEYS[1])
return record`,
  },
  /**
   * KEYS: session. ARGV: now → {0} absent; {1, expiresAt, absoluteExpiresAt} not due (touched meanwhile); {2, record}
   * due, and deleted by this call alone. A hash whose times are not numbers is due: it is no session anyway. The
   * times come first: a session touched meanwhile, what the sweeper finds most, costs one HMGET, not its whole hash.
   */
  TakeDue: {
    keys: 1,
    lua: `
local at, t = expiry(KEYS[1])
if at ~= nil and at > tonumber(ARGV[1]) then return {1, int(at), int(tonumber(t[2]))} end
local record = hashOf(KEYS[1])
if #record == 0 then return {0} end
redis.call('DEL', KEYS[1])
return {2, record}`,
  },
  /** KEYS: session. ARGV: field, value, now, sessionScoped (1/0) → 1 when written to a live session. */
  SetField: {
    keys: 1,
    lua: `
local at, t = expiry(KEYS[1], 'userId')
if at == nil or at <= tonumber(ARGV[3]) then return 0 end
if ARGV[4] == '1' and not t[3] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`,
  },
  /** KEYS: session. ARGV: field, now → 1 when the session is live (the field removed if it was there). */
  DeleteField: {
    keys: 1,
    lua: `
local at = expiry(KEYS[1])
if at == nil or at <= tonumber(ARGV[2]) then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1`,
  },
  /**
   * KEYS: session. ARGV: lastSeenAt, idleExpiresAt, now, grace → {0} when the session is not live; {1} when it was
   * touched (its TTL follows); {2, expiresAt, absoluteExpiresAt} when touched and its expiry moved earlier (an idle
   * timeout shortened, a clock behind): only then must its entry on the expiry schedule move.
   */
  Touch: {
    keys: 1,
    lua: `
local at, t = expiry(KEYS[1])
if at == nil or at <= tonumber(ARGV[3]) then return {0} end
local absolute = tonumber(t[2])
local expires = math.min(tonumber(ARGV[2]), absolute)
redis.call('HSET', KEYS[1], 'lastSeenAt', ARGV[1], 'idleExpiresAt', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], int(expires + tonumber(ARGV[4])))
if expires < at then return {2, int(expires), int(absolute)} end
return {1}`,
  },
  /**
   * KEYS: user sessions, user. ARGV: floor, keep, keepEpoch, keepCreatedAt, keepUntil → {epoch, keys}: bumps the epoch and
   * empties the index in one step. The user hash lives at least until `floor`, so that a login racing this call
   * still finds the new epoch. `keep` (or '') is a session CarryEpoch has stamped with the new epoch: it stays in the
   * index and out of `keys`, unless the epoch is no longer `keepEpoch` (a racing close: nothing is kept).
   */
  CloseUser: {
    keys: 2,
    lua: `
local keep = ARGV[2]
if keep ~= '' and tonumber(redis.call('HGET', KEYS[2], 'epoch') or '0') ~= tonumber(ARGV[3]) then keep = '' end
local epoch = redis.call('HINCRBY', KEYS[2], 'epoch', 1)
local all = redis.call('ZRANGE', KEYS[1], 0, -1)
local keys = {}
for _, key in ipairs(all) do
  if key ~= keep then keys[#keys + 1] = key end
end
local sessionsUntil = redis.call('PEXPIRETIME', KEYS[1])
redis.call('DEL', KEYS[1])
extend(KEYS[2], ARGV[1])
if sessionsUntil > 0 then extend(KEYS[2], sessionsUntil) end
if keep ~= '' then
  redis.call('ZADD', KEYS[1], ARGV[4], keep)
  if sessionsUntil > 0 then redis.call('PEXPIREAT', KEYS[1], sessionsUntil) end
  extend(KEYS[1], ARGV[5])
  extend(KEYS[2], ARGV[5])
end
return {epoch, keys}`,
  },
  /**
   * KEYS: session. ARGV: userId, epoch, stamp, now → {1, createdAt, absoluteExpiresAt} when the session is a live one of that user not
   * behind `epoch` (the user's), now stamped `stamp`; {0} otherwise. Run before CloseUser with `stamp` = epoch + 1, so
   * that the session is never behind its user's epoch, for any reader; run again with `stamp` = epoch to undo.
   */
  CarryEpoch: {
    keys: 1,
    lua: `
local at, t = expiry(KEYS[1], 'userId', 'epoch', 'createdAt')
if at == nil or at <= tonumber(ARGV[4]) or t[3] ~= ARGV[1] then return {0} end
local epoch = tonumber(t[4] or '')
if epoch == nil or epoch < tonumber(ARGV[2]) then return {0} end
redis.call('HSET', KEYS[1], 'epoch', ARGV[3])
return {1, t[5], t[2]}`,
  },
  /** KEYS: user → {epoch or nil, pttl}: the epoch and how long it can be trusted (it resets when the key expires). */
  Epoch: {
    keys: 1,
    readOnly: true,
    lua: `return {redis.call('HGET', KEYS[1], 'epoch'), redis.call('PTTL', KEYS[1])}`,
  },
  /** KEYS: user, user sessions. ARGV: field, value, floor: the user hash lives as long as the user's sessions. */
  SetUserField: {
    keys: 2,
    lua: `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local sessionsUntil = redis.call('PEXPIRETIME', KEYS[2])
if sessionsUntil > 0 then extend(KEYS[1], sessionsUntil) else extend(KEYS[1], ARGV[3]) end
return 1`,
  },
} satisfies Record<string, ScriptSpec>;

type Reply = unknown;

/** The client with the scripts defined on it (ioredis adds one method per `defineCommand`). */
export interface ScriptedClient extends LimitScripts {
  nestjsConnectedCreate(session: string, expireAt: string, ...fields: string[]): Promise<number>;
  nestjsConnectedIndexUser(
    sessions: string,
    user: string,
    key: string,
    createdAt: string,
    epoch: string,
    keepUntil: string,
  ): Promise<number>;
  nestjsConnectedSchedule(shard: string, key: string, expiresAt: string, keepUntil: string): Promise<number>;
  nestjsConnectedClaimDue(shard: string, now: string, limit: string): Promise<string[]>;
  nestjsConnectedTake(session: string): Promise<Reply>;
  nestjsConnectedTakeOfUser(session: string, userId: string): Promise<Reply>;
  nestjsConnectedTakeIfEpochBelow(session: string, epoch: string): Promise<Reply>;
  nestjsConnectedTakeDue(session: string, now: string): Promise<Reply>;
  nestjsConnectedSetField(session: string, field: string, value: string, now: string, sessionScoped: string): Promise<number>;
  nestjsConnectedDeleteField(session: string, field: string, now: string): Promise<number>;
  nestjsConnectedTouch(session: string, lastSeenAt: string, idleExpiresAt: string, now: string, grace: string): Promise<Reply>;
  nestjsConnectedCloseUser(
    sessions: string,
    user: string,
    floor: string,
    keep: string,
    keepEpoch: string,
    keepCreatedAt: string,
    keepUntil: string,
  ): Promise<Reply>;
  nestjsConnectedCarryEpoch(session: string, userId: string, epoch: string, stamp: string, now: string): Promise<Reply>;
  nestjsConnectedEpoch(user: string): Promise<Reply>;
  nestjsConnectedSetUserField(user: string, sessions: string, field: string, value: string, floor: string): Promise<number>;
}

/**
 * Defines the scripts on `client` (EVALSHA, with ioredis falling back to EVAL after a NOSCRIPT, e.g. once Redis
 * restarted). The names are prefixed so that they cannot clash with the commands of an application's own client.
 */
export function defineScripts(client: Redis | Cluster): ScriptedClient & (Redis | Cluster) {
  for (const [name, spec] of Object.entries({ ...SCRIPTS, ...LIMIT_SCRIPTS }) as Array<[string, ScriptSpec]>) {
    client.defineCommand(`nestjsConnected${name}`, {
      numberOfKeys: spec.keys,
      lua: LUA_HELPERS + spec.lua,
      ...(spec.readOnly ? { readOnly: true } : {}),
    });
  }
  return client as ScriptedClient & (Redis | Cluster);
}
