/**
 * `oms archive`: an account's logs kept beyond the 32 days, one gzip NDJSON file per UTC day.
 *
 *   DIR/
 *     manifest.json          {"Format":"oms-archive/1","AccountId":"…","Files":[{"Day","File","From","To","Records","Bytes","Sha256"}]}
 *     checkpoint.json        {"Format":"oms-archive-checkpoint/1","AccountId":"…","NextFrom":"2026-11-05T00:00:00.000000Z"}
 *     2026/11/05.ndjson.gz   the records with QueryDate in [From, To), in ReadApiLogs order, each a full Log
 *                            line with AccountId, as `oms admin import` takes them
 *
 * A day is written only once it is final: when its end is `late` in the past (records may become
 * readable some time after their QueryDate), so the current day is never written part way; it is
 * written by the first run after it ends (or by `--follow`, which waits for it). Each day is read in
 * one paging session, whose token carries a snapshot (SPEC section 4): the file holds exactly the
 * records of [From, To).
 *
 * Crash safety, in this order: the day goes to `DD.ndjson.gz.partial`, fsync, rename to
 * `DD.ndjson.gz`, fsync of the directory; then the manifest (temp, fsync, rename), then the
 * checkpoint (same). A run killed at any point leaves at most a `.partial` file, which no listing
 * calls complete; the next run starts again at the checkpoint and rewrites that day whole, replacing
 * the file and its manifest entry, so every record is in the archive exactly once.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGzip } from 'node:zlib';
import { formatIsoUs, parseIsoDate, US_PER_DAY } from '../domain/time.js';
import { ClientError } from './client-error.js';
import { MAX_RESULTS_PER_PAGE, readAllPages, type ApiCaller, type RetryOptions, type WireLog } from './read-api-logs.js';

export const MANIFEST_FORMAT = 'oms-archive/1';
export const CHECKPOINT_FORMAT = 'oms-archive-checkpoint/1';
const ACCOUNT_ID = /^\d{12}$/;

export interface ManifestFile {
  Day: string;
  File: string;
  From: string;
  To: string;
  Records: number;
  Bytes: number;
  Sha256: string;
}

export interface Manifest {
  Format: string;
  AccountId: string | null;
  Files: ManifestFile[];
}

export interface Checkpoint {
  Format: string;
  AccountId: string | null;
  NextFrom: string;
}

export interface DayWritten extends ManifestFile {
  daysDone: number;
  daysLeft: number;
}

export interface DayArchiveOptions {
  client: ApiCaller;
  outDir: string;
  /** Where a first run starts (microseconds). */
  sinceUs: number;
  /** How long after its end a day is final (microseconds). */
  lateUs: number;
  follow: boolean;
  nowUs: () => number;
  signal?: AbortSignal;
  retry?: RetryOptions;
  /** Records read so far in the current day, for a progress bar. */
  onRecords?: (dayRecords: number, day: string) => void;
  onDay?: (written: DayWritten) => void;
  /** Told when a checkpoint exists, with where this run continues (sinceUs is then not used). */
  onResume?: (nextFrom: string) => void;
  /** Told when the archive is up to date and the next day is not final yet. */
  onWaiting?: (nextDay: string, finalAtUs: number) => void;
}

export interface ArchiveSummary {
  AccountId: string | null;
  DaysWritten: number;
  Records: number;
  NextFrom: string;
}

export function dayOf(us: number): { startUs: number; key: string; file: string } {
  const startUs = Math.floor(us / US_PER_DAY) * US_PER_DAY;
  const iso = formatIsoUs(startUs);
  const key = iso.slice(0, 10);
  return { startUs, key, file: `${key.slice(0, 4)}/${key.slice(5, 7)}/${key.slice(8, 10)}.ndjson.gz` };
}

function diskError(err: unknown, what: string): ClientError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new ClientError('Archive', `disk full while writing ${what}: nothing of it was kept as complete; free some space and run again to continue`, { cause: err });
  }
  return new ClientError('Archive', `cannot write ${what}: ${code ?? (err as Error).message}`, { cause: err });
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes a small file so that a reader sees the old content or the new, never a part. */
async function writeFileAtomic(file: string, content: string): Promise<void> {
  const tmp = `${file}.tmp`;
  try {
    const handle = await open(tmp, 'w', 0o644);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
    await fsyncDir(path.dirname(file));
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw diskError(err, file);
  }
}

async function readJsonFile(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ClientError('Archive', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ClientError('Archive', `the ${what} ${file} is damaged (not JSON): restore it, or move the directory aside to start a new archive`);
  }
}

function isManifestFile(value: unknown): value is ManifestFile {
  const f = value as ManifestFile;
  return (
    typeof f === 'object' && f !== null && typeof f.Day === 'string' && typeof f.File === 'string' && typeof f.From === 'string' &&
    typeof f.To === 'string' && Number.isInteger(f.Records) && Number.isInteger(f.Bytes) && typeof f.Sha256 === 'string'
  );
}

export async function loadManifest(outDir: string): Promise<Manifest | undefined> {
  const file = path.join(outDir, 'manifest.json');
  const value = (await readJsonFile(file, 'manifest')) as Manifest | undefined;
  if (value === undefined) return undefined;
  if (
    typeof value !== 'object' || value === null || value.Format !== MANIFEST_FORMAT || !Array.isArray(value.Files) ||
    !(value.AccountId === null || (typeof value.AccountId === 'string' && ACCOUNT_ID.test(value.AccountId))) || !value.Files.every(isManifestFile)
  ) {
    throw new ClientError('Archive', `the manifest ${file} is damaged (not an ${MANIFEST_FORMAT} manifest): restore it, or move the directory aside to start a new archive`);
  }
  return value;
}

async function loadCheckpoint(outDir: string): Promise<{ checkpoint: Checkpoint; nextFromUs: number } | undefined> {
  const file = path.join(outDir, 'checkpoint.json');
  const value = (await readJsonFile(file, 'checkpoint')) as Checkpoint | undefined;
  if (value === undefined) return undefined;
  const nextFrom = typeof value === 'object' && value !== null && typeof value.NextFrom === 'string' ? parseIsoDate(value.NextFrom) : undefined;
  if (
    nextFrom === undefined || nextFrom.dateOnly || value.Format !== CHECKPOINT_FORMAT ||
    !(value.AccountId === null || (typeof value.AccountId === 'string' && ACCOUNT_ID.test(value.AccountId)))
  ) {
    throw new ClientError('Archive', `the checkpoint ${file} is damaged: restore it, or move the directory aside to start a new archive`);
  }
  return { checkpoint: value, nextFromUs: nextFrom.us };
}

/** One directory, one writer: a second `oms archive` on it would interleave files. */
async function takeLock(outDir: string): Promise<() => Promise<void>> {
  const file = path.join(outDir, '.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx', 0o644);
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => unlink(file).catch(() => undefined);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw diskError(err, file);
      const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      let alive = false;
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) {
        try {
          process.kill(pid, 0);
          alive = true;
        } catch (e) {
          alive = (e as NodeJS.ErrnoException).code === 'EPERM';
        }
      }
      if (alive) throw new ClientError('Archive', `another oms archive (pid ${pid}) is writing ${outDir}`);
      // Left by a run that was killed: take it over.
      await unlink(file).catch(() => undefined);
    }
  }
  throw new ClientError('Archive', `cannot lock ${outDir}`);
}

export class DayArchive {
  readonly #o: DayArchiveOptions;
  #accountId: string | null = null;
  #manifest: Manifest = { Format: MANIFEST_FORMAT, AccountId: null, Files: [] };

  constructor(options: DayArchiveOptions) {
    this.#o = options;
  }

  /**
   * Archives every final day from the checkpoint (or `sinceUs`) on; with `follow`, then waits for each
   * next day to become final, until the signal. `callerAccountId` is the account of the credentials
   * when known; an archive of another account is refused before anything is written.
   */
  async run(callerAccountId: string | null): Promise<ArchiveSummary> {
    const o = this.#o;
    try {
      await mkdir(o.outDir, { recursive: true });
    } catch (err) {
      throw diskError(err, o.outDir);
    }
    const release = await takeLock(o.outDir);
    try {
      return await this.#runLocked(callerAccountId);
    } finally {
      await release();
    }
  }

  async #runLocked(callerAccountId: string | null): Promise<ArchiveSummary> {
    const o = this.#o;
    const manifest = await loadManifest(o.outDir);
    const saved = await loadCheckpoint(o.outDir);
    const archiveAccount = manifest?.AccountId ?? saved?.checkpoint.AccountId ?? null;
    if (archiveAccount !== null && callerAccountId !== null && archiveAccount !== callerAccountId) {
      throw new ClientError('Archive', `${o.outDir} holds the archive of account ${archiveAccount}; these credentials are of account ${callerAccountId}`);
    }
    this.#accountId = archiveAccount ?? callerAccountId;
    if (manifest !== undefined) this.#manifest = manifest;
    this.#manifest.AccountId = this.#accountId;

    if (saved !== undefined) o.onResume?.(saved.checkpoint.NextFrom);
    let fromUs = saved?.nextFromUs ?? o.sinceUs;
    let daysWritten = 0;
    let records = 0;
    while (o.signal?.aborted !== true) {
      const day = dayOf(fromUs);
      const toUs = day.startUs + US_PER_DAY;
      const finalAtUs = toUs + o.lateUs;
      const nowUs = o.nowUs();
      if (nowUs < finalAtUs) {
        if (!o.follow) break;
        o.onWaiting?.(day.key, finalAtUs);
        try {
          await sleep(Math.min((finalAtUs - nowUs) / 1000 + 1, 3_600_000), undefined, o.signal === undefined ? undefined : { signal: o.signal });
        } catch {
          break;
        }
        continue;
      }
      const written = await this.#writeDay(day, fromUs, toUs);
      daysWritten += 1;
      records += written.Records;
      this.#manifest.Files = this.#manifest.Files.filter((f) => f.Day !== written.Day);
      this.#manifest.Files.push(written);
      this.#manifest.Files.sort((a, b) => (a.From < b.From ? -1 : a.From > b.From ? 1 : 0));
      await writeFileAtomic(path.join(o.outDir, 'manifest.json'), JSON.stringify(this.#manifest, null, 2) + '\n');
      const checkpoint: Checkpoint = { Format: CHECKPOINT_FORMAT, AccountId: this.#accountId, NextFrom: formatIsoUs(toUs) };
      await writeFileAtomic(path.join(o.outDir, 'checkpoint.json'), JSON.stringify(checkpoint, null, 2) + '\n');
      fromUs = toUs;
      const daysLeft = Math.max(0, Math.floor((o.nowUs() - o.lateUs - toUs) / US_PER_DAY));
      o.onDay?.({ ...written, daysDone: daysWritten, daysLeft });
    }
    return { AccountId: this.#accountId, DaysWritten: daysWritten, Records: records, NextFrom: formatIsoUs(fromUs) };
  }

  /** The archive line of a log: the full wire Log with its AccountId, as `oms admin import` takes it. */
  #line(log: WireLog): string {
    const account = log.AccountId;
    if (typeof account === 'string') {
      if (this.#accountId === null) this.#accountId = account;
      else if (account !== this.#accountId) {
        throw new ClientError('Archive', `${this.#o.outDir} holds the archive of account ${this.#accountId}; these credentials read account ${account}`);
      }
      return JSON.stringify(log);
    }
    if (this.#accountId === null) {
      throw new ClientError('Archive', 'the logs carry no AccountId and the account of these credentials is unknown: cannot write restorable records');
    }
    return JSON.stringify({ AccountId: this.#accountId, ...log });
  }

  async #writeDay(day: { startUs: number; key: string; file: string }, fromUs: number, toUs: number): Promise<ManifestFile> {
    const o = this.#o;
    const final = path.join(o.outDir, day.file);
    const partial = `${final}.partial`;
    const hash = createHash('sha256');
    let bytes = 0;
    let count = 0;
    const self = this;
    const params = {
      Filters: { QueryDateAfter: formatIsoUs(fromUs), QueryDateBefore: formatIsoUs(toUs) },
      ResultsPerPage: MAX_RESULTS_PER_PAGE,
    };
    async function* lines(): AsyncGenerator<string> {
      for await (const page of readAllPages(o.client, params, { ...o.retry, signal: o.signal })) {
        const logs = page.Logs ?? [];
        if (logs.length === 0) continue;
        let chunk = '';
        for (const log of logs) chunk += self.#line(log) + '\n';
        count += logs.length;
        o.onRecords?.(count, day.key);
        yield chunk;
      }
    }
    const measure = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        bytes += chunk.length;
        done(null, chunk);
      },
    });
    try {
      await mkdir(path.dirname(final), { recursive: true });
      // 'w' truncates what a killed run left; the lock makes this run the only writer.
      await pipeline(Readable.from(lines()), createGzip(), measure, createWriteStream(partial, { flags: 'w', mode: 0o644, flush: true }));
      await rename(partial, final);
      await fsyncDir(path.dirname(final));
    } catch (err) {
      await unlink(partial).catch(() => undefined);
      if (err instanceof ClientError || o.signal?.aborted === true || (err as Error).name === 'AbortError') throw err;
      if ((err as NodeJS.ErrnoException).syscall !== undefined) throw diskError(err, final);
      throw err;
    }
    return { Day: day.key, File: day.file, From: formatIsoUs(fromUs), To: formatIsoUs(toUs), Records: count, Bytes: bytes, Sha256: hash.digest('hex') };
  }
}

/**
 * The account of the credentials, when it can be learnt without writing anything: the AccountId of
 * a recent log (ReadApiLogs calls are logged too, so a second look finds the first one). Null when the
 * account has no log at all yet.
 */
export async function identifyAccount(client: ApiCaller, retry: RetryOptions = {}): Promise<string | null> {
  for (let attempt = 0; attempt < 3; attempt++) {
    for await (const page of readAllPages(client, { ResultsPerPage: 1 }, retry)) {
      const account = page.Logs?.[0]?.AccountId;
      if (typeof account === 'string' && ACCOUNT_ID.test(account)) return account;
      break;
    }
    await sleep(500 * (attempt + 1), undefined, retry.signal === undefined ? undefined : { signal: retry.signal });
  }
  return null;
}
