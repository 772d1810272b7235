import type { LogRecord } from '../domain/log.js';
import type { RecordSink } from './record-sink.js';

/**
 * The RecordSink of a gateway worker in `oms serve --workers N`: records are sent in batches to the
 * primary process, whose RecordWriter (store, spool, replay: one durable write path for all workers)
 * answers once they are durable. A batch is what one turn of the event loop produced, so concurrent
 * calls share one message each way and the primary's group commit sees them together.
 *
 *   worker: write() ─▶ batch ─▶ {type:'records', id, records} ─▶ primary: writer.write(each)
 *                                                                   │ all durable
 *   worker: resolves ◀──────────── {type:'durable', id} ◀───────────┘
 *
 * The primary also sends its state ({type:'state'}) so that /readyz and 429s in a worker reflect the
 * shared write path.
 */
export interface IpcChannel {
  send(message: unknown): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
}

export type PrimaryMessage =
  | { type: 'durable'; id: number }
  | { type: 'state'; backlog: number; spoolBacklog: number; storeRefusing: boolean; canAccept: boolean };

export type WorkerMessage = { type: 'records'; id: number; records: LogRecord[] };

/** Records a worker lets wait for the primary before refusing new calls. */
const MAX_PENDING = 20_000;

export class RemoteRecordSink implements RecordSink {
  readonly #channel: IpcChannel;
  #batch: LogRecord[] = [];
  #batchResolvers: Array<() => void> = [];
  #immediate: NodeJS.Immediate | undefined;
  readonly #inFlight = new Map<number, { records: LogRecord[]; resolvers: Array<() => void> }>();
  #nextId = 1;
  #pending = 0;
  #primary = { backlog: 0, spoolBacklog: 0, storeRefusing: false, canAccept: true };

  constructor(channel: IpcChannel) {
    this.#channel = channel;
    channel.on('message', (message) => this.#onMessage(message as PrimaryMessage));
  }

  get backlog(): number {
    return this.#pending + this.#primary.backlog;
  }

  get spoolBacklog(): number {
    return this.#primary.spoolBacklog;
  }

  get storeRefusing(): boolean {
    return this.#primary.storeRefusing;
  }

  canAccept(): boolean {
    return this.#primary.canAccept && this.#pending < MAX_PENDING;
  }

  write(record: LogRecord): Promise<void> {
    this.#pending++;
    return new Promise<void>((resolve) => {
      this.#batch.push(record);
      this.#batchResolvers.push(resolve);
      this.#immediate ??= setImmediate(() => this.#send());
    });
  }

  async flush(timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    if (this.#immediate !== undefined) {
      clearImmediate(this.#immediate);
      this.#send();
    }
    while (this.#inFlight.size > 0) {
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 5));
    }
    return true;
  }

  close(timeoutMs: number): Promise<boolean> {
    return this.flush(timeoutMs);
  }

  takeUnwritten(): LogRecord[] {
    const records: LogRecord[] = [];
    for (const batch of this.#inFlight.values()) {
      records.push(...batch.records);
      for (const resolve of batch.resolvers) resolve();
    }
    this.#inFlight.clear();
    this.#pending = 0;
    return records;
  }

  #send(): void {
    this.#immediate = undefined;
    if (this.#batch.length === 0) return;
    const id = this.#nextId++;
    const records = this.#batch;
    this.#inFlight.set(id, { records, resolvers: this.#batchResolvers });
    this.#batch = [];
    this.#batchResolvers = [];
    this.#channel.send({ type: 'records', id, records } satisfies WorkerMessage);
  }

  #onMessage(message: PrimaryMessage): void {
    if (typeof message !== 'object' || message === null) return;
    if (message.type === 'state') {
      this.#primary = { backlog: message.backlog, spoolBacklog: message.spoolBacklog, storeRefusing: message.storeRefusing, canAccept: message.canAccept };
      return;
    }
    if (message.type === 'durable') {
      const batch = this.#inFlight.get(message.id);
      if (batch === undefined) return;
      this.#inFlight.delete(message.id);
      this.#pending -= batch.records.length;
      for (const resolve of batch.resolvers) resolve();
    }
  }
}

/**
 * The primary's side: takes a worker's batches into `sink` (the one durable write path) and answers each
 * once all its records are durable; sends the sink's state every `stateEveryMs`. Returns a stop function.
 */
export function serveRemoteRecords(sink: RecordSink, channel: IpcChannel, stateEveryMs = 200): () => void {
  const sendState = (): void => {
    channel.send({ type: 'state', backlog: sink.backlog, spoolBacklog: sink.spoolBacklog, storeRefusing: sink.storeRefusing, canAccept: sink.canAccept() } satisfies PrimaryMessage);
  };
  channel.on('message', (message) => {
    const m = message as WorkerMessage;
    if (typeof m !== 'object' || m === null || m.type !== 'records' || !Array.isArray(m.records)) return;
    void Promise.all(m.records.map((record) => sink.write(record))).then(() => {
      channel.send({ type: 'durable', id: m.id } satisfies PrimaryMessage);
    });
  });
  sendState();
  const timer = setInterval(sendState, stateEveryMs);
  timer.unref();
  return () => clearInterval(timer);
}
