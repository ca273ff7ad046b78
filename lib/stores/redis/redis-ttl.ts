// How long the keys of RedisStore outlive what they describe. Every key has a TTL; these are its margins.

/**
 * How long a session hash outlives its expiry in Redis. Within it, the expiry sweeper of some server (or a read)
 * takes the record and reports it with its data, so that the `onDelete` of persisted values runs on exactly one
 * server; it also absorbs clock differences between the application servers and Redis. Past it, Redis drops what
 * no server took (all of them down). An expired record is never served: every read checks the record's own times.
 */
export const EXPIRY_GRACE_MS = 10_000;

/**
 * The least time a user's hash (epoch, persisted user values) lives after a change when no session keeps it
 * longer: long enough for a login that read the epoch before a `closeUser` to find the new one when it is stored.
 */
export const USER_FLOOR_MS = 3_600_000;

/** A moment as the integer string PEXPIREAT and the scripts take. */
export const redisTime = (ms: number) => String(Math.ceil(ms));
