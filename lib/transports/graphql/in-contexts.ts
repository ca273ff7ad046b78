/**
 * The same async iterator, with each step run by `step` (in the connection's context): the events of a
 * subscription are resolved long after `subscribe()` returned, each with the session as it is then.
 */
export function inContexts<T>(source: AsyncIterable<T>, step: <R>(next: () => R) => R): AsyncGenerator<T, void, undefined> {
  const iterator = source[Symbol.asyncIterator]();
  const generator: AsyncGenerator<T, void, undefined> = {
    next: () => step(() => iterator.next()) as Promise<IteratorResult<T, void>>,
    return: async () => {
      await step(() => iterator.return?.());
      return { done: true, value: undefined };
    },
    throw: async (error: unknown) => {
      if (iterator.throw !== undefined) return (await step(() => iterator.throw!(error))) as IteratorResult<T, void>;
      throw error;
    },
    [Symbol.asyncIterator]: () => generator,
  } as AsyncGenerator<T, void, undefined>;
  return generator;
}
