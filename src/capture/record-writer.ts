import type { LogRecord } from '../domain/log.js';
import type { LogAppender } from '../store/index.js';
import type { RecordSink } from './record-sink.js';
import type { DiskSpool } from './spool/disk-spool.js';

/**
 * The one durable write path of captured records (gateway calls and OMS's own ReadApiLogs calls).
 * Concurrent calls share one store transaction (one fsync): records written while an append runs go
 * in the next batch (group commit). When the store refuses a batch, it goes to the disk spool instead
 * (one fsync per group there too), and every later batch follows it there until a replay loop has moved
 * the whole spool into the store, oldest first; then batches go straight to the store again.
 * `write()` resolves once its record is durable in either place. The in-memory queue is bounded:
 * when it is full, callers refuse new work (`canAccept`) instead of dropping records or growing memory.
 *
 *   write() ─▶ queue ─▶ batch ─▶ store.append ──ok──▶ resolve
 *                                   │ refused (or spool not empty)
 *                                   ▼
 *                               spool.append (fsync) ──▶ resolve
 *                                   │
 *            replay loop: spool.replay(store.append) until the spool is empty, then back to the store
 *
 * Without a spool (tests, tools), a refused batch stays queued and is retried with backoff.
 * Replay is at-least-once and LogStore.append is idempotent on (AccountId, RequestId), so a crash in
 * the middle of a replay never stores a record twice.
 */
export interface RecordWriterOptions {
  maxBatch?: number;
  /** Wait this long for more records before a flush; 0 (default) flushes on the next turn of the event loop. */
  flushDelayMs?: number;
  maxQueued?: number;
  spool?: DiskSpool;
  onError?: (err: unknown, queued: number) => void;
  /** After each successful append, with the number of records it stored. */
  onWritten?: (records: number, queued: number) => void;
  /** After records went to the spool, with the spool's backlog. */
  onSpooled?: (records: number, spoolBacklog: number) => void;
}

interface Pending {
  record: LogRecord;
  resolve: () => void;
}

const MIN_RETRY_MS = 50;
const MAX_RETRY_MS = 5_000;
/** The store is tried again this often while records wait in the spool. */
const MAX_REPLAY_RETRY_MS = 1_000;

export class RecordWriter implements RecordSink {
  readonly #store: LogAppender;
  readonly #maxBatch: number;
  readonly #flushDelayMs: number;
  readonly #maxQueued: number;
  readonly #spool: DiskSpool | undefined;
  readonly #onError: (err: unknown, queued: number) => void;
  readonly #onWritten: (records: number, queued: number) => void;
  readonly #onSpooled: (records: number, spoolBacklog: number) => void;
  #queue: Pending[] = [];
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #running: Promise<void> | undefined;
  #retryMs = 0;
  #written = 0;
  #spooled = 0;
  /** Batches go to the spool while this is set: the store refused one, or the spool is not yet empty. */
  #toSpool = false;
  #spoolAppends = 0;
  #replaying: Promise<void> | undefined;
  #replayTimer: NodeJS.Timeout | undefined;
  #wakeReplay: (() => void) | undefined;
  #closed = false;

  constructor(store: LogAppender, options: RecordWriterOptions = {}) {
    this.#store = store;
    this.#maxBatch = options.maxBatch ?? 1_000;
    this.#flushDelayMs = options.flushDelayMs ?? 0;
    this.#maxQueued = options.maxQueued ?? 100_000;
    this.#spool = options.spool;
    this.#onError = options.onError ?? (() => {});
    this.#onWritten = options.onWritten ?? (() => {});
    this.#onSpooled = options.onSpooled ?? (() => {});
    // Records spooled before a restart are replayed first; new ones queue up behind them.
    if (this.#spool !== undefined && this.#spool.backlog().records > 0) {
      this.#toSpool = true;
      this.#startReplay();
    }
  }

  /** Records in memory, not yet durable anywhere. */
  get backlog(): number {
    return this.#queue.length;
  }

  /** Records durable in the spool, waiting to be replayed into the store. */
  get spoolBacklog(): number {
    return this.#spool?.backlog().records ?? 0;
  }

  get written(): number {
    return this.#written;
  }

  get spooled(): number {
    return this.#spooled;
  }

  /** true while records go to the spool rather than the store. */
  get storeRefusing(): boolean {
    return this.#toSpool;
  }

  /** false when the queue is full: callers should refuse new work (429/503). */
  canAccept(): boolean {
    return this.#queue.length < this.#maxQueued;
  }

  /** Resolves once the record is durable (store or spool). Never rejects: a failing store delays, it does not lose. */
  write(record: LogRecord): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#queue.push({ record, resolve });
      this.#schedule();
    });
  }

  /** Resolves true when everything queued is durable, false if `timeoutMs` passed first. */
  async flush(timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length > 0 || this.#running !== undefined) {
      if (Date.now() >= deadline) return false;
      this.#cancelTimers();
      this.#running ??= this.#drain();
      await this.#running;
      if (this.#queue.length > 0 && this.#retryMs > 0) await new Promise((r) => setTimeout(r, Math.min(this.#retryMs, Math.max(0, deadline - Date.now()))));
    }
    return true;
  }

  /** Waits until the spool is replayed into the store, or `timeoutMs` passed (for tests and tools). */
  async waitForReplay(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.#toSpool || this.spoolBacklog > 0) {
      if (Date.now() >= deadline) return false;
      this.#wakeReplay?.();
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  }

  /** Flushes what is queued, stops the replay loop (the spool keeps the rest for the next start). */
  async close(timeoutMs: number): Promise<boolean> {
    const flushed = await this.flush(timeoutMs);
    this.#closed = true;
    this.#wakeReplay?.();
    await this.#replaying;
    return flushed;
  }

  /** The records still queued (after a failed flush at shutdown), to be saved elsewhere. */
  takeUnwritten(): LogRecord[] {
    const records = this.#queue.map((p) => p.record);
    for (const p of this.#queue) p.resolve();
    this.#queue = [];
    return records;
  }

  #cancelTimers(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#timer = undefined;
    this.#immediate = undefined;
  }

  #schedule(): void {
    if (this.#running !== undefined || this.#timer !== undefined || this.#immediate !== undefined) return;
    const start = (): void => {
      this.#timer = undefined;
      this.#immediate = undefined;
      this.#running = this.#drain();
    };
    const delay = this.#retryMs > 0 ? this.#retryMs : this.#queue.length >= this.#maxBatch ? 0 : this.#flushDelayMs;
    // setImmediate: every record produced in this turn of the event loop joins the same batch.
    if (delay === 0) this.#immediate = setImmediate(start);
    else this.#timer = setTimeout(start, delay);
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.slice(0, this.#maxBatch);
        const records = batch.map((p) => p.record);
        if (!(await this.#persist(records))) {
          this.#retryMs = Math.min(Math.max(this.#retryMs * 2, MIN_RETRY_MS), MAX_RETRY_MS);
          return;
        }
        this.#retryMs = 0;
        this.#queue.splice(0, batch.length);
        for (const p of batch) p.resolve();
      }
    } finally {
      this.#running = undefined;
      if (this.#queue.length > 0) this.#schedule();
    }
  }

  /** true when the batch is durable in the store or the spool. */
  async #persist(records: LogRecord[]): Promise<boolean> {
    if (!this.#toSpool) {
      try {
        await this.#store.append(records);
        this.#written += records.length;
        this.#onWritten(records.length, this.#queue.length - records.length);
        return true;
      } catch (err) {
        this.#onError(err, this.#queue.length);
        if (this.#spool === undefined) return false;
        this.#toSpool = true;
      }
    }
    const spool = this.#spool as DiskSpool;
    this.#spoolAppends++;
    try {
      await spool.append(records);
      this.#spooled += records.length;
      this.#onSpooled(records.length, spool.backlog().records);
      return true;
    } catch (err) {
      this.#onError(err, this.#queue.length);
      return false;
    } finally {
      this.#spoolAppends--;
      this.#startReplay();
    }
  }

  #startReplay(): void {
    this.#replaying ??= this.#replayLoop().finally(() => {
      this.#replaying = undefined;
      // A batch spooled while the loop was finishing would otherwise wait for the next refusal.
      if (!this.#closed && this.#toSpool) this.#startReplay();
    });
  }

  async #replayLoop(): Promise<void> {
    const spool = this.#spool as DiskSpool;
    let retryMs = 0;
    while (!this.#closed) {
      if (retryMs > 0) {
        await new Promise<void>((resolve) => {
          this.#wakeReplay = resolve;
          this.#replayTimer = setTimeout(resolve, retryMs);
        });
        clearTimeout(this.#replayTimer);
        this.#wakeReplay = undefined;
        if (this.#closed) return;
      }
      try {
        const replayed = await spool.replay(async (batch) => {
          await this.#store.append(batch);
        });
        this.#written += replayed;
        if (replayed > 0) this.#onWritten(replayed, this.#queue.length);
        retryMs = 0;
      } catch (err) {
        this.#onError(err, spool.backlog().records);
        retryMs = Math.min(Math.max(retryMs * 2, MIN_RETRY_MS), MAX_REPLAY_RETRY_MS);
        continue;
      }
      // Back to the store only when nothing is left behind in the spool, nor on its way there.
      if (spool.backlog().records === 0 && this.#spoolAppends === 0) {
        this.#toSpool = false;
        return;
      }
      if (retryMs === 0) retryMs = MIN_RETRY_MS;
    }
  }
}
