import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { LogRecord } from '../../domain/log.js';
import { OmsError } from '../../domain/oms-error.js';
import type { AppendResult, LogAppender } from '../log-store.js';
import type { AppendReply, AppendRequest } from './append-worker.js';
import type { SqliteLogStoreOptions } from './sqlite-log-store.js';

/**
 * Appends to a SQLite store from a worker thread (append-worker.ts) with its own connection.
 * better-sqlite3 is synchronous: on the main thread, every transaction and its fsync (synchronous=FULL)
 * would stop the event loop, and with it every call in flight. Here the main thread only posts the
 * batch; while the worker commits it, new records gather for the next batch (group commit).
 * Same contract as LogStore.append: idempotent on (AccountId, RequestId), durable once resolved,
 * OmsError('StoreUnavailable') when the store refuses the write (or the worker is gone).
 */
export class ThreadedSqliteAppender implements LogAppender {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (r: AppendResult) => void; reject: (err: unknown) => void }>();
  readonly #exited: Promise<void>;
  #nextId = 1;
  #failed: OmsError | undefined;

  constructor(options: SqliteLogStoreOptions) {
    // The worker entry sits next to this file: .js in dist/, .ts when run from source through tsx,
    // whose loader a worker thread of Node 20 must be given again.
    const fromSource = import.meta.url.endsWith('.ts');
    const entry = new URL(`./append-worker${fromSource ? '.ts' : '.js'}`, import.meta.url);
    if (fromSource) {
      const api = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
      const boot = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
      this.#worker = new Worker(boot, { eval: true, workerData: options });
    } else {
      this.#worker = new Worker(entry, { workerData: options });
    }
    this.#worker.on('message', (reply: AppendReply | 'ready') => {
      if (reply === 'ready') return;
      const pending = this.#pending.get(reply.id);
      if (pending === undefined) return;
      this.#pending.delete(reply.id);
      if (reply.ok) pending.resolve({ inserted: reply.inserted, duplicateIndexes: reply.duplicateIndexes });
      else pending.reject(new OmsError(reply.kind, reply.details));
    });
    this.#worker.on('error', (err) => this.#fail(new OmsError('StoreUnavailable', 'the log store writer stopped', { cause: err })));
    this.#exited = new Promise((resolve) => {
      this.#worker.once('exit', () => {
        this.#fail(new OmsError('StoreUnavailable', 'the log store writer stopped'));
        resolve();
      });
    });
  }

  append(records: readonly LogRecord[]): Promise<AppendResult> {
    if (this.#failed !== undefined) return Promise.reject(this.#failed);
    if (records.length === 0) return Promise.resolve({ inserted: 0, duplicateIndexes: [] });
    const id = this.#nextId++;
    return new Promise<AppendResult>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, records: records as LogRecord[] } satisfies AppendRequest);
    });
  }

  async close(): Promise<void> {
    if (this.#failed === undefined) this.#worker.postMessage('close');
    await this.#exited;
  }

  #fail(err: OmsError): void {
    this.#failed ??= err;
    for (const pending of this.#pending.values()) pending.reject(err);
    this.#pending.clear();
  }
}
