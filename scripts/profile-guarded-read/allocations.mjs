// Alloc mode of scripts/profile-guarded-read.mjs: bytes allocated per request, by function, in each variant's server.
import { largestDifferences, libraryNamed, total } from './compare.mjs';

/**
 * For each adapter, each variant's server under the same load (`--seconds`, after `--warmup`) with V8's sampling
 * heap profiler on (every allocation, the young garbage included, sampled every 64 bytes): the bytes it allocates
 * per request, and the functions whose allocations differ most from the ceiling's. Allocation is not time: the
 * `ceiling-alloc:<n>` variant says what n small objects a request cost in CPU on this machine.
 */
export async function allocMode(adapters, { options, preparedServer, load, libraryOf }) {
  const variants = options.variants.split(',');
  for (const adapter of adapters) {
    const perVariant = new Map();
    for (const variant of variants) {
      const { server, port, cookies } = await preparedServer(adapter, variant);
      await server.ask('alloc-start');
      const requests = await load(port, cookies, Number(options.seconds), options.route, Number(options.connections));
      const { bytes } = await server.ask('alloc-stop');
      const perRequest = new Map(bytes.map(([name, allocated]) => [name, allocated / requests]));
      perVariant.set(variant, libraryNamed(perRequest, libraryOf(variant)));
      await server.stop();
    }
    const base = perVariant.get(variants[0]);
    for (const [variant, bytes] of perVariant) {
      console.log(`alloc ${adapter.padEnd(8)} /${options.route} ${variant}: ${total(bytes).toFixed(0)} B allocated per request`);
      if (bytes === base) continue;
      console.log(`    ${(total(bytes) - total(base)).toFixed(0)} B more than ${variants[0]}; the largest differences, B per request:`);
      for (const [name, difference] of largestDifferences(bytes, base, Number(options.top))) {
        console.log(`    ${difference.toFixed(0).padStart(6)}  ${name}`);
      }
    }
  }
}
