import { processIdFrom, ProcessRegistry } from '../../../lib/context/process-registry.js';

describe('processIdFrom', () => {
  it.each(['tab-1', 'A_b-9', 'x'.repeat(64)])('accepts %s', (id) => expect(processIdFrom(id)).toBe(id));
  it.each(['', 'x'.repeat(65), 'a b', 'a/b', '__proto__.x', 'é'])('refuses %j', (id) => expect(processIdFrom(id)).toBeUndefined());
  it('refuses a repeated header (an array) and a missing one', () => {
    expect(processIdFrom(['tab-1', 'tab-2'])).toBeUndefined();
    expect(processIdFrom(undefined)).toBeUndefined();
  });
});

describe('ProcessRegistry', () => {
  it('says a process is new once', () => {
    const registry = new ProcessRegistry();
    expect(registry.isNew('tab-1')).toBe(true);
    expect(registry.isNew('tab-1')).toBe(false);
    expect(registry.isNew('tab-2')).toBe(true);
  });

  it('is bounded: past its capacity the oldest id is forgotten and counts as new again', () => {
    const registry = new ProcessRegistry(2);
    registry.isNew('a');
    registry.isNew('b');
    registry.isNew('c');
    expect(registry.isNew('b')).toBe(false);
    expect(registry.isNew('a')).toBe(true);
  });
});
