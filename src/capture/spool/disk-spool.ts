import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync, unlinkSync } from 'node:fs';
import { open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import * as zlib from 'node:zlib';
import { formatIsoUs, INTEGER_FIELDS, LOG_FIELDS, parseIsoDate, STRING_FIELDS, type Log, type LogRecord } from '../../domain/index.js';

/**
 * An append-only spool of log records on local disk, for when the store cannot take writes: the gateway
 * keeps serving, records wait here, and are replayed into the store, in order, once it is back.
 * It survives restarts, `kill -9` included: a record whose append() resolved is on disk (fsynced) and
 * is replayed; a line torn by a crash is never replayed half.
 *
 * Directory (one process per directory):
 *
 *   <dir>/0000000000000001.spool   sealed segment ─┐ replayed oldest first,
 *   <dir>/0000000000000002.spool   sealed segment  │ deleted once fully consumed
 *   <dir>/0000000000000003.spool   active segment ─┘ appended to; a new one after segmentBytes or a restart
 *   <dir>/checkpoint.json          {"segment":2,"offset":8192}: everything before that position is consumed
 *
 * Segment line (UTF-8):
 *
 *   1c291ca3 {"AccountId":"123456789012",…,"QueryDate":"2021-08-11T09:55:02.842375Z",…}\n
 *   └ CRC-32 (IEEE 802.3, as zlib/gzip) of the JSON bytes, 8 lower-case hex digits, then one space
 *
 * The JSON is the wire `Log` (QueryDate as an ISO string with microseconds), so that
 * `cut -d' ' -f2- <segment>` is a file `oms admin import` takes. JSON escapes every newline inside
 * values, so a record is exactly one line. A line without its final newline is a torn write (the
 * process died mid-write) and is ignored; a complete line whose checksum or content is wrong is skipped,
 * counted in `corruptLines` and reported, never fatal.
 *
 * Writes use group commit: appends made while a write+fsync is in flight wait for it to finish, then
 * all go in the next one, so N concurrent appends cost one write and one fsync rather than N.
 * A process restart never appends to an existing segment (it may end in a torn line); it starts a new one.
 *
 * Replay is at-least-once: the checkpoint advances (write-temp, fsync, rename, fsync directory) only
 * after the sink resolved, so a crash between the two sends that last batch again. That is harmless
 * because LogStore.append is idempotent on (AccountId, RequestId): the store reports the repeats as
 * duplicates and keeps one copy.
 */

export interface DiskSpoolOptions {
  dir: string;
  /** A segment is closed and a new one started once it holds this many bytes (default 64 MiB). */
  segmentBytes?: number;
  /** fsync data, checkpoint and directory (default true). false survives a process crash, not a power cut. */
  fsync?: boolean;
  /** Makes a segment's or checkpoint's data durable: `FileHandle.datasync()` by default. Tests count or fail it. */
  syncFile?: (file: FileHandle) => Promise<void>;
  /** Told of each line replay skips (checksum, content, torn end), for the operator's log. */
  onBadLine?: (line: BadLine) => void;
}

export interface BadLine {
  segment: string;
  offset: number;
  kind: 'corrupt' | 'torn';
  reason: string;
}

export interface SpoolBacklog {
  /** Complete lines not yet replayed (a corrupt one counts until replay skips it). */
  records: number;
  bytes: number;
}

export interface SpoolStats {
  corruptLines: number;
  tornLines: number;
  /** 1 when the checkpoint file was unreadable at open and replay restarted from the oldest segment. */
  checkpointResets: number;
  segments: number;
}

export interface ReplayOptions {
  /** Records per sink call (default 1000). A batch never spans two segments. */
  batchSize?: number;
}

export type SpoolSink = (batch: LogRecord[]) => Promise<void>;

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
const DEFAULT_BATCH_SIZE = 1_000;
const READ_CHUNK_BYTES = 1024 * 1024;
const SEGMENT_NAME = /^(\d{16})\.spool$/;
const CHECKSUM = /^[0-9a-f]{8}$/;
const CHECKPOINT_FILE = 'checkpoint.json';
const CHECKPOINT_TEMP = 'checkpoint.json.tmp';
const NEWLINE = 0x0a;
const SPACE = 0x20;

// ── CRC-32 ────────────────────────────────────────────────────────────────────────────────────────
// zlib.crc32 exists from Node 20.15; earlier 20.x get the classic table-driven version (same result).

const CRC_TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC_TABLE[n] = c;
}

export function crc32Table(data: Uint8Array): number {
  let crc = -1;
  for (let i = 0; i < data.length; i++) crc = (CRC_TABLE[(crc ^ (data[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

const nativeCrc32 = (zlib as unknown as { crc32?: (data: Uint8Array) => number }).crc32;
export const crc32: (data: Uint8Array) => number = nativeCrc32 ?? crc32Table;

// ── Line format ───────────────────────────────────────────────────────────────────────────────────

/** Checks what JSON could not carry back unchanged: a record that resolves must decode. */
function checkEncodable(record: LogRecord): void {
  for (const field of STRING_FIELDS) {
    if (typeof record[field] !== 'string') throw new TypeError(`spool: ${field} must be a string`);
  }
  for (const field of INTEGER_FIELDS) {
    if (!Number.isFinite(record[field])) throw new TypeError(`spool: ${field} must be a finite number`);
  }
  if (!Number.isSafeInteger(record.QueryDateUs) || record.QueryDateUs < 0) {
    throw new TypeError('spool: QueryDateUs must be a non-negative safe integer');
  }
}

function toWire(record: LogRecord): Log {
  // Field by field: the line holds exactly the 16 fields, whatever else the object carries.
  return {
    AccountId: record.AccountId,
    CallDuration: record.CallDuration,
    QueryAccessKey: record.QueryAccessKey,
    QueryApiName: record.QueryApiName,
    QueryApiVersion: record.QueryApiVersion,
    QueryCallName: record.QueryCallName,
    QueryDate: formatIsoUs(record.QueryDateUs),
    QueryHeaderRaw: record.QueryHeaderRaw,
    QueryHeaderSize: record.QueryHeaderSize,
    QueryIpAddress: record.QueryIpAddress,
    QueryPayloadRaw: record.QueryPayloadRaw,
    QueryPayloadSize: record.QueryPayloadSize,
    QueryUserAgent: record.QueryUserAgent,
    RequestId: record.RequestId,
    ResponseSize: record.ResponseSize,
    ResponseStatusCode: record.ResponseStatusCode,
  };
}

/** One record as a spool line, final newline included. */
export function encodeSpoolLine(record: LogRecord): Buffer {
  checkEncodable(record);
  const json = Buffer.from(JSON.stringify(toWire(record)), 'utf8');
  const line = Buffer.allocUnsafe(json.length + 10);
  line.write(crc32(json).toString(16).padStart(8, '0'), 0, 'latin1');
  line[8] = SPACE;
  json.copy(line, 9);
  line[line.length - 1] = NEWLINE;
  return line;
}

/** A line without its newline, back to a record; or why it cannot be. */
export function decodeSpoolLine(line: Uint8Array): { ok: true; record: LogRecord } | { ok: false; reason: string } {
  const buf = Buffer.isBuffer(line) ? line : Buffer.from(line.buffer, line.byteOffset, line.byteLength);
  if (buf.length < 10 || buf[8] !== SPACE) return { ok: false, reason: 'not a spool line' };
  const checksum = buf.toString('latin1', 0, 8);
  if (!CHECKSUM.test(checksum)) return { ok: false, reason: 'not a spool line' };
  const json = buf.subarray(9);
  if (crc32(json) !== Number.parseInt(checksum, 16)) return { ok: false, reason: 'checksum mismatch' };
  let value: unknown;
  try {
    value = JSON.parse(json.toString('utf8'));
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'not a JSON object' };
  const log = value as Record<string, unknown>;
  for (const field of STRING_FIELDS) {
    if (typeof log[field] !== 'string') return { ok: false, reason: `${field} is not a string` };
  }
  for (const field of INTEGER_FIELDS) {
    if (typeof log[field] !== 'number') return { ok: false, reason: `${field} is not a number` };
  }
  const date = typeof log.QueryDate === 'string' ? parseIsoDate(log.QueryDate) : undefined;
  if (date === undefined || date.dateOnly) return { ok: false, reason: 'QueryDate is not a date-time' };
  const wire = log as unknown as Log;
  const record = {} as Record<string, unknown>;
  for (const field of LOG_FIELDS) {
    if (field !== 'QueryDate') record[field] = wire[field];
  }
  record.QueryDateUs = date.us;
  return { ok: true, record: record as unknown as LogRecord };
}

// ── The spool ─────────────────────────────────────────────────────────────────────────────────────

interface Segment {
  id: number;
  file: string;
  /** Bytes on disk; for the active segment, bytes written and synced (always whole lines). */
  size: number;
  /** Open for appending: only the active (last) segment. */
  handle: FileHandle | undefined;
}

interface Checkpoint {
  /** Segments with a lower id are consumed; this one up to `offset`. */
  segment: number;
  offset: number;
}

interface PendingAppend {
  data: Buffer;
  records: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function segmentFileName(id: number): string {
  return `${String(id).padStart(16, '0')}.spool`;
}

function isErrno(err: unknown, ...codes: string[]): boolean {
  return typeof err === 'object' && err !== null && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

function readCheckpointSync(file: string): Checkpoint | undefined | 'unreadable' {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    const { segment, offset } = value;
    if (Number.isSafeInteger(segment) && Number.isSafeInteger(offset) && (segment as number) >= 0 && (offset as number) >= 0) {
      return { segment: segment as number, offset: offset as number };
    }
  } catch {
    // falls through
  }
  return 'unreadable';
}

function countNewlinesSync(file: string, from: number, to: number): number {
  const fd = openSync(file, 'r');
  try {
    const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, Math.max(to - from, 1)));
    let count = 0;
    let position = from;
    while (position < to) {
      const bytesRead = readSync(fd, chunk, 0, Math.min(chunk.length, to - position), position);
      if (bytesRead === 0) break;
      let at = chunk.indexOf(NEWLINE, 0);
      while (at !== -1 && at < bytesRead) {
        count++;
        at = chunk.indexOf(NEWLINE, at + 1);
      }
      position += bytesRead;
    }
    return count;
  } finally {
    closeSync(fd);
  }
}

async function writeFully(handle: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset, null);
    offset += bytesWritten;
  }
}

const datasync = (file: FileHandle): Promise<void> => file.datasync();

export class DiskSpool {
  readonly #dir: string;
  readonly #segmentBytes: number;
  readonly #fsync: boolean;
  readonly #syncFile: (file: FileHandle) => Promise<void>;
  readonly #onBadLine: (line: BadLine) => void;
  readonly #checkpointFile: string;
  readonly #checkpointTemp: string;

  /** Unconsumed segments, oldest first; the last one may be active. */
  #segments: Segment[];
  #active: Segment | undefined;
  #lastId: number;
  #checkpoint: Checkpoint;
  #backlogRecords: number;
  #backlogBytes: number;
  #corruptLines = 0;
  #tornLines = 0;
  readonly #checkpointResets: number;

  #pending: PendingAppend[] = [];
  #writer: Promise<void> | undefined;
  /** Set by replay when it has consumed the active segment: the next write starts a new one. */
  #rotateRequested = false;
  #replayQueue: Promise<unknown> = Promise.resolve();
  #closed = false;
  #closing: Promise<void> | undefined;

  private constructor(
    options: Required<Pick<DiskSpoolOptions, 'dir' | 'segmentBytes' | 'fsync'>> & DiskSpoolOptions,
    state: { segments: Segment[]; lastId: number; checkpoint: Checkpoint; records: number; bytes: number; resets: number },
  ) {
    this.#dir = options.dir;
    this.#segmentBytes = options.segmentBytes;
    this.#fsync = options.fsync;
    this.#syncFile = options.syncFile ?? datasync;
    const onBadLine = options.onBadLine;
    // A failing report must not stop the replay.
    this.#onBadLine =
      onBadLine === undefined
        ? () => {}
        : (line) => {
            try {
              onBadLine(line);
            } catch {
              // ignored
            }
          };
    this.#checkpointFile = path.join(options.dir, CHECKPOINT_FILE);
    this.#checkpointTemp = path.join(options.dir, CHECKPOINT_TEMP);
    this.#segments = state.segments;
    this.#active = undefined;
    this.#lastId = state.lastId;
    this.#checkpoint = state.checkpoint;
    this.#backlogRecords = state.records;
    this.#backlogBytes = state.bytes;
    this.#checkpointResets = state.resets;
  }

  /**
   * Opens (creating if needed) the spool in `dir`. Synchronous, for startup: it lists the segments,
   * drops the consumed ones and counts the backlog. Existing segments are only read from now on.
   */
  static open(options: DiskSpoolOptions): DiskSpool {
    const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    if (!Number.isSafeInteger(segmentBytes) || segmentBytes < 1) throw new RangeError('segmentBytes must be a positive integer');
    const dir = path.resolve(options.dir);
    mkdirSync(dir, { recursive: true });
    try {
      unlinkSync(path.join(dir, CHECKPOINT_TEMP));
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }

    const read = readCheckpointSync(path.join(dir, CHECKPOINT_FILE));
    const resets = read === 'unreadable' ? 1 : 0;
    // Unreadable: start over from the oldest segment. Records are sent again, and the store drops the repeats.
    const checkpoint: Checkpoint = read === undefined || read === 'unreadable' ? { segment: 0, offset: 0 } : read;

    const ids = readdirSync(dir)
      .map((name) => SEGMENT_NAME.exec(name)?.[1])
      .filter((id): id is string => id !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const segments: Segment[] = [];
    let records = 0;
    let bytes = 0;
    for (const id of ids) {
      const file = path.join(dir, segmentFileName(id));
      const size = statSync(file).size;
      const from = id === checkpoint.segment ? Math.min(checkpoint.offset, size) : 0;
      if (id < checkpoint.segment || (id === checkpoint.segment && from >= size)) {
        unlinkSync(file);
        continue;
      }
      records += countNewlinesSync(file, from, size);
      bytes += size - from;
      segments.push({ id, file, size, handle: undefined });
    }
    const lastId = Math.max(ids.at(-1) ?? 0, checkpoint.segment);
    return new DiskSpool(
      { ...options, dir, segmentBytes, fsync: options.fsync ?? true },
      { segments, lastId, checkpoint, records, bytes, resets },
    );
  }

  /** What replay has yet to send. */
  backlog(): SpoolBacklog {
    // Exact, unless a failed write could not be cut off: then its complete lines are replayed too.
    return { records: Math.max(this.#backlogRecords, 0), bytes: Math.max(this.#backlogBytes, 0) };
  }

  stats(): SpoolStats {
    return {
      corruptLines: this.#corruptLines,
      tornLines: this.#tornLines,
      checkpointResets: this.#checkpointResets,
      segments: this.#segments.length,
    };
  }

  /**
   * Resolves once the records are written and synced to disk; rejects (and leaves nothing of them behind,
   * as far as the disk allows) if that fails. Records appended in one call stay together and in order.
   */
  append(records: readonly LogRecord[]): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the spool is closed'));
    if (records.length === 0) return Promise.resolve();
    let data: Buffer;
    try {
      data = records.length === 1 ? encodeSpoolLine(records[0] as LogRecord) : Buffer.concat(records.map(encodeSpoolLine));
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ data, records: records.length, resolve, reject });
      this.#writer ??= this.#runWriter();
    });
  }

  /**
   * Sends the backlog to `sink`, oldest first, in batches; after each batch the sink resolved, the
   * checkpoint moves past it and fully consumed segments are deleted. Replays what was appended before
   * the call (and what arrives in the segment being read); the caller calls again while backlog() is not
   * empty. A sink that throws stops the replay: what it took so far stays consumed, the rest waits for
   * the next call, and the sink's error is rethrown. Calls run one at a time. Resolves with the number
   * of records the sink accepted.
   */
  replay(sink: SpoolSink, options: ReplayOptions = {}): Promise<number> {
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) return Promise.reject(new RangeError('batchSize must be a positive integer'));
    if (this.#closed) return Promise.reject(new Error('the spool is closed'));
    const run = this.#replayQueue.then(() => this.#replay(sink, batchSize));
    this.#replayQueue = run.catch(() => {});
    return run;
  }

  /** Waits for the appends already made, then closes the active segment. Later appends reject. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      while (this.#writer !== undefined) await this.#writer;
      await this.#sealActive();
    })();
    return this.#closing;
  }

  // ── Writing ─────────────────────────────────────────────────────────────────────────────────────

  async #runWriter(): Promise<void> {
    // Appends made in the same tick as the one that started the writer join its first group.
    await Promise.resolve();
    try {
      while (this.#pending.length > 0) await this.#writeGroup();
    } finally {
      this.#writer = undefined;
    }
  }

  async #writeGroup(): Promise<void> {
    let group: PendingAppend[] = [];
    try {
      let segment = this.#active;
      const first = this.#pending[0] as PendingAppend;
      if (
        segment !== undefined &&
        (this.#rotateRequested || (segment.size > 0 && segment.size + first.data.length > this.#segmentBytes))
      ) {
        await this.#sealActive();
        segment = undefined;
      }
      segment ??= await this.#createSegment();
      // As much as fits in the segment, and at least one append.
      const room = this.#segmentBytes - segment.size;
      let bytes = 0;
      let count = 0;
      while (count < this.#pending.length) {
        const next = this.#pending[count] as PendingAppend;
        if (count > 0 && bytes + next.data.length > room) break;
        bytes += next.data.length;
        count++;
      }
      group = this.#pending.splice(0, count);
      const handle = segment.handle as FileHandle;
      const data = group.length === 1 ? (group[0] as PendingAppend).data : Buffer.concat(group.map((p) => p.data), bytes);
      try {
        await writeFully(handle, data);
        if (this.#fsync) await this.#syncFile(handle);
      } catch (err) {
        // A failed write or sync may leave part of the group on disk: cut it off and seal the segment,
        // so that no later line is ever written after a partial one.
        await handle.truncate(segment.size).catch(() => {});
        await this.#sealActive().catch(() => {});
        throw err;
      }
      segment.size += bytes;
      let records = 0;
      for (const p of group) records += p.records;
      this.#backlogRecords += records;
      this.#backlogBytes += bytes;
      for (const p of group) p.resolve();
    } catch (err) {
      // Opening a segment failed before anything was taken: fail the oldest append, keep the others queued.
      if (group.length === 0) group = this.#pending.splice(0, 1);
      for (const p of group) p.reject(err);
    }
  }

  async #createSegment(): Promise<Segment> {
    this.#rotateRequested = false;
    const id = this.#lastId + 1;
    const file = path.join(this.#dir, segmentFileName(id));
    // 'ax': append-only, and never an existing file.
    const handle = await open(file, 'ax');
    this.#lastId = id;
    try {
      // The new name must be durable too, or a power cut could lose a file whose data was synced.
      if (this.#fsync) await this.#syncDir();
    } catch (err) {
      await handle.close().catch(() => {});
      await unlink(file).catch(() => {});
      throw err;
    }
    const segment: Segment = { id, file, size: 0, handle };
    this.#segments.push(segment);
    this.#active = segment;
    return segment;
  }

  async #sealActive(): Promise<void> {
    const segment = this.#active;
    if (segment === undefined) return;
    this.#active = undefined;
    const handle = segment.handle;
    segment.handle = undefined;
    await handle?.close();
    if (this.#isConsumed(segment, segment.size)) await this.#dropSegment(segment);
  }

  async #syncDir(): Promise<void> {
    let dir: FileHandle;
    try {
      dir = await open(this.#dir, 'r');
    } catch (err) {
      // Some platforms cannot open a directory for syncing; there the rename is as durable as it gets.
      if (isErrno(err, 'EISDIR', 'EPERM', 'EACCES')) return;
      throw err;
    }
    try {
      await dir.sync();
    } catch (err) {
      if (!isErrno(err, 'EINVAL', 'EISDIR', 'EPERM', 'EBADF')) throw err;
    } finally {
      await dir.close();
    }
  }

  // ── Replaying ───────────────────────────────────────────────────────────────────────────────────

  #isConsumed(segment: Segment, size: number): boolean {
    return segment.id < this.#checkpoint.segment || (segment.id === this.#checkpoint.segment && this.#checkpoint.offset >= size);
  }

  async #dropSegment(segment: Segment): Promise<void> {
    this.#segments = this.#segments.filter((s) => s !== segment);
    await unlink(segment.file).catch((err: unknown) => {
      if (!isErrno(err, 'ENOENT')) throw err;
    });
  }

  async #replay(sink: SpoolSink, batchSize: number): Promise<number> {
    // Segments created after this call began wait for the next one, so a busy writer cannot keep it going.
    const lastId = this.#lastId;
    let replayed = 0;
    for (;;) {
      if (this.#closed) return replayed;
      const segment = this.#segments.find((s) => s.id >= this.#checkpoint.segment && s.id <= lastId);
      if (segment === undefined) return replayed;
      const active = segment === this.#active;
      // The active segment is read up to what is synced (whole lines); a sealed one to its end.
      let end = segment.size;
      if (!active) {
        try {
          end = (await stat(segment.file)).size;
        } catch (err) {
          // Sealed and consumed meanwhile, and deleted by the writer.
          if (!isErrno(err, 'ENOENT')) throw err;
          await this.#dropSegment(segment);
          continue;
        }
        segment.size = end;
      }
      const from = segment.id === this.#checkpoint.segment ? this.#checkpoint.offset : 0;
      if (from < end) replayed += await this.#replaySegment(segment, from, end, !active, sink, batchSize);
      if (segment === this.#active) {
        // Consumed up to what was synced: later records go to a new segment, and this one is deleted
        // when it is sealed.
        this.#rotateRequested = true;
        return replayed;
      }
      if (segment.handle === undefined && this.#isConsumed(segment, segment.size)) {
        await this.#dropSegment(segment);
        this.#checkpoint = { segment: segment.id + 1, offset: 0 };
      }
    }
  }

  /** Replays [from, end) of one segment; returns the number of records the sink took. */
  async #replaySegment(
    segment: Segment,
    from: number,
    end: number,
    sealed: boolean,
    sink: SpoolSink,
    batchSize: number,
  ): Promise<number> {
    const name = path.basename(segment.file);
    let replayed = 0;
    let batch: LogRecord[] = [];
    let batchLines = 0;
    let batchEnd = from;
    let committed = from;

    const commit = async (): Promise<void> => {
      if (batch.length > 0) await sink(batch);
      replayed += batch.length;
      this.#backlogRecords -= batchLines;
      this.#backlogBytes -= batchEnd - committed;
      committed = batchEnd;
      batch = [];
      batchLines = 0;
      await this.#writeCheckpoint({ segment: segment.id, offset: batchEnd });
    };

    const handle = await open(segment.file, 'r');
    try {
      const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, end - from));
      let carry: Buffer = Buffer.alloc(0);
      // File offset of carry[0] (and of the data that follows it).
      let base = from;
      let position = from;
      while (position < end) {
        const { bytesRead } = await handle.read(chunk, 0, Math.min(chunk.length, end - position), position);
        if (bytesRead === 0) break;
        position += bytesRead;
        const data = carry.length === 0 ? chunk.subarray(0, bytesRead) : Buffer.concat([carry, chunk.subarray(0, bytesRead)]);
        let start = 0;
        for (let nl = data.indexOf(NEWLINE, start); nl !== -1; nl = data.indexOf(NEWLINE, start)) {
          const decoded = decodeSpoolLine(data.subarray(start, nl));
          if (decoded.ok) batch.push(decoded.record);
          else {
            this.#corruptLines++;
            this.#onBadLine({ segment: name, offset: base + start, kind: 'corrupt', reason: decoded.reason });
          }
          batchLines++;
          batchEnd = base + nl + 1;
          start = nl + 1;
          if (batch.length >= batchSize) await commit();
        }
        // The unfinished line is copied: `chunk` is reused by the next read.
        carry = Buffer.from(data.subarray(start));
        base += start;
      }
      if (sealed && base < end) {
        // No newline at the end of a segment nobody writes to any more: the write was torn by a crash.
        this.#tornLines++;
        this.#onBadLine({ segment: name, offset: base, kind: 'torn', reason: 'line without its end' });
        batchEnd = end;
      }
      if (batchEnd > committed) await commit();
    } finally {
      await handle.close();
    }
    return replayed;
  }

  /** Write-temp, sync, rename, sync directory: after a crash the file is the old checkpoint or the new one. */
  async #writeCheckpoint(checkpoint: Checkpoint): Promise<void> {
    this.#checkpoint = checkpoint;
    const handle = await open(this.#checkpointTemp, 'w');
    try {
      await handle.writeFile(`${JSON.stringify(checkpoint)}\n`);
      if (this.#fsync) await this.#syncFile(handle);
    } finally {
      await handle.close();
    }
    await rename(this.#checkpointTemp, this.#checkpointFile);
    if (this.#fsync) await this.#syncDir();
  }
}
