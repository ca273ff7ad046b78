// Self time per function and per package of a .cpuprofile, for scripts/profile-guarded-read.mjs.

/** Self time per function (and per file) of a .cpuprofile, largest first. */
export function summarise(file) {
  return import('node:fs').then(({ readFileSync }) => {
    const profile = JSON.parse(readFileSync(file, 'utf8'));
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    const hits = new Map();
    const deltas = profile.timeDeltas;
    for (let i = 0; i < profile.samples.length; i++) hits.set(profile.samples[i], (hits.get(profile.samples[i]) ?? 0) + (deltas[i] ?? 0));
    let total = 0;
    const perFunction = new Map();
    const perFile = new Map();
    for (const [id, micros] of hits) {
      const frame = byId.get(id).callFrame;
      total += micros;
      const url = frame.url.replace(/^file:\/\//, '').replace(/.*node_modules\//, '');
      const name = `${frame.functionName || '(anonymous)'} ${url}:${frame.lineNumber + 1}`;
      perFunction.set(name, (perFunction.get(name) ?? 0) + micros);
      const where = url === '' ? `(${frame.functionName})` : url.replace(/^(@[^/]+\/[^/]+|[^/]+)\/.*/, '$1');
      perFile.set(where, (perFile.get(where) ?? 0) + micros);
    }
    console.log(`  profile ${file}: ${(total / 1000).toFixed(0)} ms sampled`);
    const top = (map, count) =>
      [...map.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, count)
        .map(([name, micros]) => `    ${((100 * micros) / total).toFixed(1).padStart(5)}%  ${name}`)
        .join('\n');
    console.log(`  by package/file:\n${top(perFile, 15)}\n  by function:\n${top(perFunction, 40)}`);
  });
}
