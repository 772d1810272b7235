import type { LogRecord } from '../domain/log.js';
import type { LogStore } from '../store/index.js';

/**
 * Batches records into the store: concurrent calls share one transaction (and one fsync), a failed
 * append keeps its records queued and retries with backoff, and the queue is bounded: when it is full,
 * callers are told to refuse new work (`canAccept`) instead of letting memory grow or dropping records.
 *
 *   write() ─▶ queue ─▶ (maxBatch or flushDelayMs) ─▶ store.append(batch) ─▶ promises resolve
 *                 ▲                                          │ error
 *                 └────────────── stays queued, retried ◀────┘
 */
export interface RecordWriterOptions {
  maxBatch?: number;
  flushDelayMs?: number;
  maxQueued?: number;
  onError?: (err: unknown, queued: number) => void;
  /** After each successful append, with the number of records it stored. */
  onWritten?: (records: number, queued: number) => void;
}

interface Pending {
  record: LogRecord;
  resolve: () => void;
}

const MIN_RETRY_MS = 50;
const MAX_RETRY_MS = 5_000;

export class RecordWriter {
  readonly #store: LogStore;
  readonly #maxBatch: number;
  readonly #flushDelayMs: number;
  readonly #maxQueued: number;
  readonly #onError: (err: unknown, queued: number) => void;
  readonly #onWritten: (records: number, queued: number) => void;
  #queue: Pending[] = [];
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #retryMs = 0;
  #written = 0;

  constructor(store: LogStore, options: RecordWriterOptions = {}) {
    this.#store = store;
    this.#maxBatch = options.maxBatch ?? 1_000;
    this.#flushDelayMs = options.flushDelayMs ?? 2;
    this.#maxQueued = options.maxQueued ?? 100_000;
    this.#onError = options.onError ?? (() => {});
    this.#onWritten = options.onWritten ?? (() => {});
  }

  get backlog(): number {
    return this.#queue.length;
  }

  get written(): number {
    return this.#written;
  }

  /** false when the queue is full or the store is failing: callers should refuse new work (429/503). */
  canAccept(): boolean {
    return this.#queue.length < this.#maxQueued;
  }

  /** Resolves once the record is durable in the store. Never rejects: a failing store delays, it does not lose. */
  write(record: LogRecord): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#queue.push({ record, resolve });
      this.#schedule();
    });
  }

  /** Resolves true when everything queued is stored, false if `timeoutMs` passed first. */
  async flush(timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length > 0 || this.#running !== undefined) {
      if (Date.now() >= deadline) return false;
      if (this.#timer !== undefined) {
        clearTimeout(this.#timer);
        this.#timer = undefined;
      }
      this.#running ??= this.#drain();
      await this.#running;
      if (this.#queue.length > 0 && this.#retryMs > 0) await new Promise((r) => setTimeout(r, this.#retryMs));
    }
    return true;
  }

  /** The records still queued (after a failed flush at shutdown), to be saved elsewhere. */
  takeUnwritten(): LogRecord[] {
    const records = this.#queue.map((p) => p.record);
    for (const p of this.#queue) p.resolve();
    this.#queue = [];
    return records;
  }

  #schedule(): void {
    if (this.#running !== undefined || this.#timer !== undefined) return;
    const delay = this.#queue.length >= this.#maxBatch ? 0 : this.#retryMs > 0 ? this.#retryMs : this.#flushDelayMs;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#drain();
    }, delay);
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.slice(0, this.#maxBatch);
        try {
          await this.#store.append(batch.map((p) => p.record));
        } catch (err) {
          this.#retryMs = Math.min(Math.max(this.#retryMs * 2, MIN_RETRY_MS), MAX_RETRY_MS);
          this.#onError(err, this.#queue.length);
          return;
        }
        this.#retryMs = 0;
        this.#queue.splice(0, batch.length);
        this.#written += batch.length;
        this.#onWritten(batch.length, this.#queue.length);
        for (const p of batch) p.resolve();
      }
    } finally {
      this.#running = undefined;
      if (this.#queue.length > 0) this.#schedule();
    }
  }
}
