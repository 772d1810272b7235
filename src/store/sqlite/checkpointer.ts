import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Copies the WAL into the database file on a worker thread with its own connection.
 *
 * In WAL mode every commit appends the pages it changed to the `-wal` file; a checkpoint later copies
 * them into the database. SQLite's automatic checkpoint runs inside the COMMIT of whichever write
 * crosses `wal_autocheckpoint`, so the writer pays for it inline: on 2M records, importing went from
 * 50,200 to 74,000 records/s once the copy moved here (bench/store-import.ts). A PASSIVE checkpoint never
 * blocks readers or the writer (https://www.sqlite.org/wal.html#checkpointing), so the worker can
 * copy while the main thread keeps appending.
 *
 *   main thread                        worker thread
 *   COMMIT ─ signal[COMMITS]++ ─ notify ─▶ wakes, wal_checkpoint(PASSIVE)
 *            reads signal[WAL_FRAMES]  ◀── stores frames in the WAL after its checkpoint
 *
 * The signal is a SharedArrayBuffer (Atomics.wait/notify), not a message: the worker wakes even when
 * the main thread never returns to its event loop (a tight import loop), and no message queue grows.
 *
 * Checkpoints are at least `minIntervalMs` apart (default 200 ms): a server appending one record per
 * call would otherwise checkpoint after every call, each time syncing the WAL and then the database
 * (two fsyncs, competing with the fsync of the next strict commit). Commits made meanwhile are copied
 * by the next checkpoint.
 *
 * The WAL restarts from its beginning only when a write starts after everything was copied. Under a
 * continuous stream of commits that moment may not come, so when the worker reports a WAL larger than
 * `walLimitBytes`, `shouldCatchUp()` tells the writer to run one PASSIVE checkpoint itself between two
 * transactions: the worker has already copied almost everything, so it is short, and the next write
 * restarts the WAL (its file is then truncated to `journal_size_limit`).
 */
export interface CheckpointerOptions {
  path: string;
  synchronous: 'NORMAL' | 'FULL';
  walLimitBytes: number;
  pageSizeBytes: number;
  /** Shortest time between two checkpoints (0: one after every commit). */
  minIntervalMs?: number;
}

const DEFAULT_MIN_INTERVAL_MS = 200;

const COMMITS = 0;
const CLOSING = 1;
const WAL_FRAMES = 2;

// CommonJS run by the worker (eval: true): no file to ship or resolve next to the compiled output.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const Database = require(workerData.driverPath);
const signal = new Int32Array(workerData.signal);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 0');
db.pragma('synchronous = ' + workerData.synchronous);
let seen = 0;
for (;;) {
  if (Atomics.load(signal, ${CLOSING}) === 1) break;
  const commits = Atomics.load(signal, ${COMMITS});
  if (commits === seen) {
    // Returns at once if a commit (or close) changed the counter since it was read.
    Atomics.wait(signal, ${COMMITS}, seen);
    continue;
  }
  seen = commits;
  try {
    const result = db.pragma('wal_checkpoint(PASSIVE)')[0];
    Atomics.store(signal, ${WAL_FRAMES}, result.log);
  } catch {
    // Busy (the writer is catching up itself) or a transient I/O error: the next commit asks again.
  }
  // Returns at once when close() is called.
  if (workerData.minIntervalMs > 0) Atomics.wait(signal, ${CLOSING}, 0, workerData.minIntervalMs);
}
db.close();
`;

export class WalCheckpointer {
  readonly #signal: Int32Array;
  readonly #worker: Worker;
  readonly #walLimitFrames: number;
  readonly #exited: Promise<void>;

  constructor(options: CheckpointerOptions) {
    const shared = new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT);
    this.#signal = new Int32Array(shared);
    this.#walLimitFrames = Math.max(1, Math.floor(options.walLimitBytes / options.pageSizeBytes));
    const driverPath = createRequire(import.meta.url).resolve('better-sqlite3');
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { path: options.path, synchronous: options.synchronous, signal: shared, driverPath, minIntervalMs: Math.max(0, options.minIntervalMs ?? DEFAULT_MIN_INTERVAL_MS) },
    });
    // A store left unclosed must not keep the process alive.
    this.#worker.unref();
    this.#exited = new Promise((resolve) => this.#worker.once('exit', () => resolve()));
    // A worker that fails to open the file leaves checkpoints to shouldCatchUp(); nothing to report.
    this.#worker.on('error', () => undefined);
  }

  /** Call after each commit. */
  notifyCommit(): void {
    Atomics.add(this.#signal, COMMITS, 1);
    Atomics.notify(this.#signal, COMMITS);
  }

  /** True when the WAL has grown past the limit and the writer should checkpoint once itself. */
  shouldCatchUp(): boolean {
    if (Atomics.load(this.#signal, WAL_FRAMES) < this.#walLimitFrames) return false;
    Atomics.store(this.#signal, WAL_FRAMES, 0);
    return true;
  }

  async close(): Promise<void> {
    // Unreferenced, the worker would not keep the process alive while close() waits for it.
    this.#worker.ref();
    Atomics.store(this.#signal, CLOSING, 1);
    Atomics.notify(this.#signal, CLOSING);
    this.notifyCommit();
    await this.#exited;
  }
}
