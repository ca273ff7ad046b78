// Heap snapshot comparison of scripts/profile-socket-memory.mjs: nodes grouped by type and constructor (strings
// and numbers by type only), the groups that grew most between two snapshots, per socket.
import { readFileSync } from 'node:fs';

const BY_TYPE_ONLY = new Set(['string', 'concatenated string', 'sliced string', 'number', 'code', 'bigint']);

/** Count and self size of each group of nodes in a `.heapsnapshot` file. */
function groups(file) {
  const { snapshot, nodes, strings } = JSON.parse(readFileSync(file, 'utf8'));
  const fields = snapshot.meta.node_fields;
  const types = snapshot.meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((field) => fields.indexOf(field));
  const result = new Map();
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]];
    const key = BY_TYPE_ONLY.has(type) ? `(${type})` : `${type} ${strings[nodes[i + nameAt]].slice(0, 60)}`;
    const group = result.get(key) ?? { count: 0, size: 0 };
    group.count++;
    group.size += nodes[i + sizeAt];
    result.set(key, group);
  }
  return result;
}

/** Each group's growth from the snapshot `before` to `after` (files). */
function growth(before, after) {
  const a = groups(before);
  const b = groups(after);
  const result = new Map();
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(key) ?? { count: 0, size: 0 };
    const y = b.get(key) ?? { count: 0, size: 0 };
    result.set(key, { count: y.count - x.count, size: y.size - x.size });
  }
  return result;
}

/**
 * Prints the groups whose growth while the sockets opened (`[before, after]` files of one server) was larger in
 * `mine` than in `floor`, per socket, and the total.
 */
export function compareSnapshots(floor, mine, sockets, label, top = 30) {
  const a = growth(...floor);
  const b = growth(...mine);
  const rows = [];
  let total = 0;
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(key) ?? { count: 0, size: 0 };
    const y = b.get(key) ?? { count: 0, size: 0 };
    const size = (y.size - x.size) / sockets;
    total += size;
    rows.push({ key, count: (y.count - x.count) / sockets, size });
  }
  rows.sort((r, s) => Math.abs(s.size) - Math.abs(r.size));
  console.log(`\n${label}: ${total.toFixed(0)} B/socket of V8 heap (self sizes), largest groups:`);
  for (const row of rows.slice(0, top)) {
    console.log(`  ${row.size.toFixed(1).padStart(8)} B  ${row.count.toFixed(2).padStart(6)} nodes  ${row.key}`);
  }
}
