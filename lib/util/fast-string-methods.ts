/** A string wrapper object: its prototype chain starts at `String.prototype`, as a primitive string's does not. */
const WRAPPER = Object('') as object;

/** Loads a `String.prototype` method through the wrapper: the load site whose misses V8 answers by fixing the chain. */
function loadThroughWrapper(): unknown {
  return (WRAPPER as { indexOf?: unknown }).indexOf;
}

/**
 * Calls enough for V8 to give {@link loadThroughWrapper} its feedback (it waits for 8 calls before it records any)
 * and then miss once with it; far more would cost nothing either.
 */
const CALLS = 64;

/**
 * Puts `String.prototype` back in V8's fast mode and keeps it there. Every method call on a string (`indexOf`,
 * `slice`, `trim`, …) loads the method from that object; while it is in dictionary mode, optimized code cannot inline
 * the load and calls V8's generic load instead, in Express, Node's HTTP code and this library alike.
 *
 * Making an object whose prototype is `String.prototype` (`class … extends String`, as ioredis's RESP3 decoder does
 * when it loads) turns `String.prototype` into a dictionary, because V8 expects such a prototype to be set up
 * property by property next. V8 makes a prototype fast again, and marks it to stay fast, only when a property load
 * misses with feedback on an object that has it on its chain; primitive strings never do that, so without this it
 * stays a dictionary for the life of the process (docs/ARCHITECTURE.md, "A subclass of String"). Idempotent, and
 * harmless when it was fast already.
 */
export function keepStringMethodsFast(): void {
  for (let i = 0; i < CALLS; i++) loadThroughWrapper();
}
