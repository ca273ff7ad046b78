import type { Logger } from '@nestjs/common';
import { constants, type Stats } from 'node:fs';
import { open, rename, unlink, writeFile } from 'node:fs/promises';
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
 * Opening never blocks: a FIFO put in the snapshot's place would otherwise hold the start-up until someone writes to
 * it, and the check below refuses it anyway. (Windows has no O_NONBLOCK: `| undefined` adds nothing there.)
 */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

/**
 * The snapshot in `file`, or undefined when there is none, it is not one this process may trust (see
 * {@link distrust}) or it is not a version 1 snapshot (logged, never thrown: a bad file must not stop the
 * application from starting). A refused file is left where it is.
 */
export async function readSnapshotFile(file: string, logger: Logger): Promise<Snapshot | undefined> {
  let text: string;
  try {
    // Checked and read through one descriptor: the file checked is the file read, whatever is renamed meanwhile.
    const handle = await open(file, OPEN_FLAGS);
    try {
      const reason = distrust(await handle.stat());
      if (reason !== undefined) {
        refuse(logger, file, reason);
        return undefined;
      }
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') {
      refuse(logger, file, 'it is not a regular file');
    } else if (code !== 'ENOENT') {
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
 * Why a snapshot file with these stats must not be loaded, or undefined when it may. Whoever can write the file can
 * log in as anyone: it must be a regular file, owned by this process's user and writable by that user only. Where
 * the platform has no POSIX owners and modes (Windows: no `process.getuid`, and every writable file reads as 0666),
 * only the file type is checked.
 */
function distrust(stats: Stats): string | undefined {
  if (!stats.isFile()) return 'it is not a regular file';
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  if (stats.uid !== uid) return `it is owned by uid ${stats.uid}, not by this process's user (uid ${uid})`;
  if ((stats.mode & 0o022) !== 0) {
    return `it is writable by group or others (mode ${(stats.mode & 0o7777).toString(8).padStart(4, '0')})`;
  }
  return undefined;
}

/** Logs one error line for a snapshot file not loaded: the path, why, and what a trusted file looks like. */
function refuse(logger: Logger, file: string, reason: string): void {
  logger.error(
    `Snapshot file ${file} not loaded: ${reason}; a snapshot must be a regular file owned by this process's user and ` +
      'writable by that user only. Starting with no restored sessions; the file stays as it is until shutdown writes ' +
      "this run's snapshot in its place",
  );
}

/**
 * Deletes the snapshot file once read: after a crash (no snapshot written on close), the next start must not bring
 * back sessions that ended meanwhile.
 */
export async function deleteSnapshotFile(file: string): Promise<void> {
  await unlink(file).catch(() => undefined);
}
