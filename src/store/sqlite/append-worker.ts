import { parentPort, workerData } from 'node:worker_threads';
import { isOmsError } from '../../domain/oms-error.js';
import type { LogRecord } from '../../domain/log.js';
import { SqliteLogStore, type SqliteLogStoreOptions } from './sqlite-log-store.js';

/**
 * The thread behind ThreadedSqliteAppender: its own connection to the store file, doing nothing but
 * appends, so that a transaction and its fsync never hold up the main thread's event loop.
 */
export interface AppendRequest {
  id: number;
  records: LogRecord[];
}

export type AppendReply =
  | { id: number; ok: true; inserted: number; duplicateIndexes: number[] }
  | { id: number; ok: false; kind: 'StoreUnavailable' | 'Internal'; details: string };

const port = parentPort;
if (port === null) throw new Error('append-worker.ts runs as a worker thread');
const store = new SqliteLogStore(workerData as SqliteLogStoreOptions);

port.on('message', (message: AppendRequest | 'close') => {
  if (message === 'close') {
    void store.close().then(() => port.close());
    return;
  }
  store.append(message.records).then(
    (result) => port.postMessage({ id: message.id, ok: true, inserted: result.inserted, duplicateIndexes: result.duplicateIndexes } satisfies AppendReply),
    (err: unknown) => {
      const kind = isOmsError(err) && err.kind === 'StoreUnavailable' ? 'StoreUnavailable' : 'Internal';
      const details = isOmsError(err) ? err.details : 'the log store failed';
      port.postMessage({ id: message.id, ok: false, kind, details } satisfies AppendReply);
    },
  );
});
port.postMessage('ready');
