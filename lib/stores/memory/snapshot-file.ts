import type { Logger } from '@nestjs/common';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { describeError } from '../../util/describe-error.js';

/**
 * The snapshot file of a MemoryStore, as JSON. Its entries are untrusted when read back (the file may have been
 * edited or damaged): the store checks every one of them.
 */
export interface Snapshot {
  version: 1;
  sessions: Array<[string, unknown]>;
  users: Array<[string, { epoch: number; fields: Array<[string, string]> }]>;
}

/** Writes `snapshot` to `file` atomically (a temporary file renamed over it), readable by its owner only. */
export async function writeSnapshotFile(file: string, snapshot: Snapshot): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  // A leftover temp file would keep its own mode: remove it and create the file afresh, exclusively, as 0600.
  await unlink(temp).catch(() => undefined);
  await writeFile(temp, JSON.stringify(snapshot), { mode: 0o600, flag: 'wx' });
  await rename(temp, file);
}

/**
 * The snapshot in `file`, or undefined when there is none or it is not a version 1 snapshot (logged, never thrown:
 * a damaged file must not stop the application from starting).
 */
export async function readSnapshotFile(file: string, logger: Logger): Promise<Snapshot | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      logger.warn(`Could not read the snapshot file: ${describeError(error)}`);
    }
    return undefined;
  }
  try {
    const snapshot = JSON.parse(text) as Snapshot;
    if (snapshot?.version !== 1 || !Array.isArray(snapshot.sessions) || !Array.isArray(snapshot.users)) {
      throw new Error('not a version 1 snapshot');
    }
    return snapshot;
  } catch (error) {
    logger.warn(`Ignored a corrupt snapshot file: ${describeError(error)}`);
    return undefined;
  }
}

/**
 * Deletes the snapshot file once read: after a crash (no snapshot written on close), the next start must not bring
 * back sessions that ended meanwhile.
 */
export async function deleteSnapshotFile(file: string): Promise<void> {
  await unlink(file).catch(() => undefined);
}
