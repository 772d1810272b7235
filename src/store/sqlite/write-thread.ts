import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { LogRecord } from '../../domain/log.js';
import { OmsError } from '../../domain/oms-error.js';
import type { AppendResult } from '../log-store.js';
import type { LogWriter } from './appender.js';
import type { WriteReply, WriteRequest, WriteWorkerData } from './write-worker.js';

type Pending = { resolve: (value: unknown) => void; reject: (err: OmsError) => void };
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/**
 * The main thread's side of the store's write thread (write-worker.ts). Each write is a message and
 * its answer; messages are handled in order, so an append sent before a read's snapshot is committed
 * before the worker answers it. Records cross the thread boundary by structured clone.
 *
 * Why a thread: an append commits by writing every page it changed to the WAL, about 1.3 ms for a
 * single record and 4 ms for ten on the reference machine (16 KiB pages, six B-trees touched), time
 * during which a main-thread writer would answer no call at all. The worker takes that time on the
 * other core. A worker that dies fails its pending writes with StoreUnavailable (the record writer
 * keeps those records and retries) and is started again on the next write.
 */
export class WriteThread implements LogWriter {
  readonly #data: WriteWorkerData;
  readonly #resourceLimits: ResourceLimits | undefined;
  readonly #pending = new Map<number, Pending>();
  #worker: Worker | undefined;
  #exited: Promise<void> = Promise.resolve();
  #nextId = 1;
  #closed = false;

  /** `resourceLimits` bounds the thread's heap: a thread past it dies alone, as any dying thread (above). */
  constructor(data: WriteWorkerData, options: { resourceLimits?: ResourceLimits } = {}) {
    this.#data = data;
    this.#resourceLimits = options.resourceLimits;
    this.#start();
  }

  append(records: readonly LogRecord[]): Promise<AppendResult> {
    return this.#call({ op: 'append', records: records as LogRecord[] }) as Promise<AppendResult>;
  }

  purgeChunk(cutoffUs: number): Promise<number> {
    return this.#call({ op: 'purgeChunk', cutoffUs }) as Promise<number>;
  }

  optimize(): Promise<void> {
    return this.#call({ op: 'optimize' }) as Promise<void>;
  }

  checkpoint(): Promise<void> {
    return this.#call({ op: 'checkpoint' }) as Promise<void>;
  }

  /** The writes already sent are answered first (messages are handled in order); then the thread ends. */
  async close(): Promise<void> {
    if (this.#closed) return;
    const worker = this.#worker;
    if (worker !== undefined) {
      const closing = this.#call({ op: 'close' }).catch(() => undefined);
      // Referenced until it has exited: nothing else may keep the process alive meanwhile.
      worker.ref();
      worker.removeAllListeners('message');
      worker.on('message', (reply: WriteReply) => this.#settle(reply));
      await closing;
      await this.#exited;
    }
    this.#closed = true;
  }

  #call(request: WithoutId<WriteRequest>): Promise<unknown> {
    if (this.#closed) return Promise.reject(new OmsError('StoreUnavailable', 'the log store is closed'));
    const worker = this.#worker ?? this.#start();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      // Keep the process alive while a write is on its way, not while the thread is idle.
      if (this.#pending.size === 1) worker.ref();
      worker.postMessage({ ...request, id } as WriteRequest);
    });
  }

  #settle(reply: WriteReply): void {
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) return;
    this.#pending.delete(reply.id);
    if (reply.ok) pending.resolve(reply.value);
    else pending.reject(new OmsError(reply.kind, reply.details, reply.cause === undefined ? {} : { cause: new Error(reply.cause) }));
  }

  #start(): Worker {
    const worker = startWorker(this.#data, this.#resourceLimits);
    worker.unref();
    worker.on('message', (reply: WriteReply) => {
      this.#settle(reply);
      if (this.#pending.size === 0) worker.unref();
    });
    // An uncaught error in the thread is followed by its exit, handled below.
    worker.on('error', () => undefined);
    this.#exited = new Promise((resolve) =>
      worker.once('exit', () => {
        if (this.#worker === worker) this.#worker = undefined;
        const lost = [...this.#pending.values()];
        this.#pending.clear();
        for (const p of lost) p.reject(new OmsError('StoreUnavailable', 'the log store writer stopped'));
        resolve();
      }),
    );
    this.#worker = worker;
    return worker;
  }
}

/**
 * The compiled worker is write-worker.js beside this file. Run from the TypeScript sources (the tests
 * and benchmarks, under tsx), the thread first registers the same loader, which workers do not inherit.
 */
function startWorker(data: WriteWorkerData, resourceLimits: ResourceLimits | undefined): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./write-worker.js', here), { workerData: data, resourceLimits });
  const loader = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./write-worker.ts', here).href;
  const source = `import(${JSON.stringify(loader)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(source, { eval: true, workerData: data, resourceLimits });
}
