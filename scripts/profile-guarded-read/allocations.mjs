// Alloc mode of scripts/profile-guarded-read.mjs: bytes allocated per request, by function, in each variant's server.

/**
 * For each adapter, each variant's server under the same load (`--seconds`, after `--warmup`) with V8's sampling
 * heap profiler on (every allocation, the young garbage included, sampled every 64 bytes): the bytes it allocates
 * per request, and the functions whose allocations differ most from the ceiling's. Allocation is not time: the
 * `ceiling-alloc:<n>` variant says what n small objects a request cost in CPU on this machine.
 */
export async function allocMode(adapters, { options, preparedServer, load }) {
  const variants = options.variants.split(',');
  for (const adapter of adapters) {
    const perVariant = new Map();
    for (const variant of variants) {
      const { server, port, cookies } = await preparedServer(adapter, variant);
      await server.ask('alloc-start');
      const requests = await load(port, cookies, Number(options.seconds), options.route, Number(options.connections));
      const { bytes } = await server.ask('alloc-stop');
      perVariant.set(variant, new Map(bytes.map(([name, total]) => [name, total / requests])));
      await server.stop();
    }
    const base = perVariant.get(variants[0]);
    for (const [variant, bytes] of perVariant) {
      console.log(`alloc ${adapter.padEnd(8)} /${options.route} ${variant}: ${sum(bytes).toFixed(0)} B allocated per request`);
      if (bytes === base) continue;
      const names = new Set([...bytes.keys(), ...base.keys()]);
      const differences = [...names]
        .map((name) => [name, (bytes.get(name) ?? 0) - (base.get(name) ?? 0)])
        .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]))
        .slice(0, Number(options.top));
      console.log(`    ${(sum(bytes) - sum(base)).toFixed(0)} B more than ${variants[0]}; the largest differences, B per request:`);
      for (const [name, difference] of differences) console.log(`    ${difference.toFixed(0).padStart(6)}  ${name}`);
    }
  }
}

function sum(bytes) {
  let total = 0;
  for (const value of bytes.values()) total += value;
  return total;
}
