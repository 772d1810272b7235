import type { LogRecord } from '../domain/log.js';

/**
 * Where captured records go: the RecordWriter of this process (store, spool), or, in a gateway worker
 * of `oms serve --workers N`, the primary process's RecordWriter over IPC (RemoteRecordSink).
 * `write()` resolves once the record is durable, and never rejects.
 */
export interface RecordSink {
  /** Records in memory, not yet durable. */
  readonly backlog: number;
  /** Records durable in the spool, waiting for the store. */
  readonly spoolBacklog: number;
  /** true while the store refuses writes (records go to the spool). */
  readonly storeRefusing: boolean;
  canAccept(): boolean;
  write(record: LogRecord): Promise<void>;
  /** Resolves true when everything written so far is durable, false if `timeoutMs` passed first. */
  flush(timeoutMs?: number): Promise<boolean>;
  /** Flushes and stops; resolves true when everything was made durable. */
  close(timeoutMs: number): Promise<boolean>;
  /** Records still in memory after a failed close, to be saved elsewhere. */
  takeUnwritten(): LogRecord[];
}
