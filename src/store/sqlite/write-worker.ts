/**
 * The write thread of the SQLite log store: one connection that performs every write of this process
 * (appends, purge chunks, planner statistics, catch-up checkpoints), so that the main thread, which
 * serves HTTP and reads pages, never waits for a transaction to commit. write-thread.ts starts it and
 * speaks to it; this file only runs inside the worker.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { OmsError, type ErrorKind } from '../../domain/oms-error.js';
import type { LogRecord } from '../../domain/log.js';
import { SqliteAppender, type IdentityFilterOptions } from './appender.js';
import { toStoreError } from './driver-errors.js';

export interface WriteWorkerData {
  path: string;
  synchronous: 'NORMAL' | 'FULL';
  busyTimeoutMs: number;
  cacheSizeMb: number;
  /** Size of the WAL file kept after a checkpoint (journal_size_limit). */
  walLimitBytes: number;
  recentIdentities: number | undefined;
  identityFilter?: IdentityFilterOptions;
  /** A checkpointer thread copies the WAL (checkpointer.ts); without one, SQLite checkpoints in COMMIT. */
  backgroundCheckpoint: boolean;
}

export type WriteRequest =
  | { id: number; op: 'append'; records: LogRecord[] }
  | { id: number; op: 'purgeChunk'; cutoffUs: number }
  | { id: number; op: 'optimize' }
  | { id: number; op: 'checkpoint' }
  | { id: number; op: 'close' };

export type WriteReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; kind: ErrorKind; details: string; cause: string | undefined };

function failure(id: number, err: unknown): WriteReply {
  const mapped = toStoreError(err);
  const cause = mapped.cause instanceof Error ? `${(mapped.cause as NodeJS.ErrnoException).code ?? ''} ${mapped.cause.message}`.trim() : undefined;
  return { id, ok: false, kind: mapped.kind, details: mapped.details, cause };
}

function open(data: WriteWorkerData): { db: Database.Database; appender: SqliteAppender } {
  const db = new Database(data.path, { fileMustExist: true });
  try {
    db.pragma(`busy_timeout = ${data.busyTimeoutMs}`);
    db.pragma(`cache_size = ${-1024 * data.cacheSizeMb}`);
    db.pragma(`synchronous = ${data.synchronous}`);
    if (data.backgroundCheckpoint) {
      // Checkpoints are the checkpointer's (checkpointer.ts), or this thread's on request.
      db.pragma('wal_autocheckpoint = 0');
      db.pragma(`journal_size_limit = ${data.walLimitBytes}`);
    }
    return { db, appender: new SqliteAppender(db, { recentIdentities: data.recentIdentities, identityFilter: data.identityFilter }) };
  } catch (err) {
    db.close();
    throw err;
  }
}

const port = parentPort;
if (port !== null) {
  const data = workerData as WriteWorkerData;
  let opened: { db: Database.Database; appender: SqliteAppender } | undefined;
  let openError: unknown;
  try {
    opened = open(data);
  } catch (err) {
    // better-sqlite3 reports a missing directory as a plain TypeError: still a file that cannot be opened.
    const mapped = toStoreError(err);
    openError = mapped.kind === 'StoreUnavailable' ? mapped : new OmsError('StoreUnavailable', 'the log store file cannot be opened', { cause: err });
  }
  port.on('message', (request: WriteRequest) => {
    if (opened === undefined) {
      if (request.op === 'close') {
        port.postMessage({ id: request.id, ok: true, value: undefined } satisfies WriteReply);
        port.close();
      } else {
        port.postMessage(failure(request.id, openError));
      }
      return;
    }
    try {
      let value: unknown;
      switch (request.op) {
        case 'append':
          value = opened.appender.append(request.records);
          break;
        case 'purgeChunk':
          value = opened.appender.purgeChunk(request.cutoffUs);
          break;
        case 'optimize':
          opened.appender.optimize();
          break;
        case 'checkpoint':
          opened.db.pragma('wal_checkpoint(PASSIVE)');
          break;
        case 'close':
          opened.db.close();
          opened = undefined;
          openError = new OmsError('StoreUnavailable', 'the log store is closed');
          break;
      }
      port.postMessage({ id: request.id, ok: true, value } satisfies WriteReply);
      // With its port closed and no connection, the thread has nothing left and exits.
      if (request.op === 'close') port.close();
    } catch (err) {
      port.postMessage(failure(request.id, err));
    }
  });
}
