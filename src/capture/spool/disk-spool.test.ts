import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as zlib from 'node:zlib';
import fc from 'fast-check';
import type { LogRecord } from '../../domain/index.js';
import { crc32, crc32Table, decodeSpoolLine, DiskSpool, encodeSpoolLine, type BadLine } from './disk-spool.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const CRASH_WRITER = path.join(REPO_ROOT, 'test/fixtures/spool-crash-writer.ts');

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'oms-spool-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function record(i: number, overrides: Partial<LogRecord> = {}): LogRecord {
  return {
    AccountId: '123456789012',
    CallDuration: 1_000 + i,
    QueryAccessKey: 'AKIDEXAMPLE0000000000',
    QueryApiName: 'oapi',
    QueryApiVersion: '1.40',
    QueryCallName: 'ReadVms',
    QueryDateUs: 1_700_000_000_000_000 + i,
    QueryHeaderRaw: 'Host: api.eu-west-2.outscale.com\\nUser-Agent: osc-cli\\nAuthorization: *****',
    QueryHeaderSize: 180,
    QueryIpAddress: '198.51.100.7',
    QueryPayloadRaw: `{"Filters":{"VmIds":["i-${i}"]}}`,
    QueryPayloadSize: 30,
    QueryUserAgent: 'osc-cli/1.11',
    RequestId: `req-${String(i).padStart(6, '0')}`,
    ResponseSize: 512,
    ResponseStatusCode: 200,
    ...overrides,
  };
}

const records = (from: number, count: number): LogRecord[] => Array.from({ length: count }, (_, k) => record(from + k));

function segmentFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.spool'))
    .sort();
}

/** Replays everything into an array, batch by batch. */
async function drain(spool: DiskSpool, batchSize?: number): Promise<{ records: LogRecord[]; batches: number[] }> {
  const out: LogRecord[] = [];
  const batches: number[] = [];
  const options = batchSize === undefined ? {} : { batchSize };
  await spool.replay(async (batch) => {
    batches.push(batch.length);
    out.push(...batch);
  }, options);
  return { records: out, batches };
}

describe('crc32', () => {
  it('gives the IEEE check value for "123456789"', () => {
    assert.equal(crc32Table(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(crc32Table(Buffer.alloc(0)), 0);
  });

  it('the table version agrees with zlib where zlib has one', () => {
    const native = (zlib as unknown as { crc32?: (data: Uint8Array) => number }).crc32;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        assert.equal(crc32Table(bytes), native === undefined ? crc32(bytes) : native(bytes));
      }),
    );
  });
});

describe('spool lines', () => {
  const anyRecord = fc.record({
    AccountId: fc.string(),
    CallDuration: fc.integer({ min: 0 }),
    QueryAccessKey: fc.string(),
    QueryApiName: fc.string(),
    QueryApiVersion: fc.string(),
    QueryCallName: fc.string(),
    QueryDateUs: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    // Full Unicode, newlines, backslashes and lone surrogates included.
    QueryHeaderRaw: fc.string({ unit: 'binary' }),
    QueryHeaderSize: fc.integer({ min: 0 }),
    QueryIpAddress: fc.string(),
    QueryPayloadRaw: fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom('\n', '\r', '\\', '"', '\u2028', '\ud800', 'a') })),
    QueryPayloadSize: fc.integer({ min: 0 }),
    QueryUserAgent: fc.string({ unit: 'grapheme' }),
    RequestId: fc.string(),
    ResponseSize: fc.integer({ min: 0 }),
    ResponseStatusCode: fc.integer({ min: 100, max: 599 }),
  });

  it('a record survives encoding exactly, and its line holds a single newline, at the end', () => {
    fc.assert(
      fc.property(anyRecord, (rec) => {
        const line = encodeSpoolLine(rec);
        assert.equal(line.indexOf(0x0a), line.length - 1);
        const decoded = decodeSpoolLine(line.subarray(0, -1));
        assert.ok(decoded.ok);
        assert.deepEqual(decoded.record, { ...rec });
      }),
      { numRuns: 300 },
    );
  });

  it('the line is a checksum, a space and the wire Log, QueryDate in ISO form', () => {
    const line = encodeSpoolLine(record(7, { QueryDateUs: 1_628_675_702_842_375 })).toString('utf8');
    assert.match(line, /^[0-9a-f]{8} \{"AccountId":"123456789012",.*"QueryDate":"2021-08-11T09:55:02.842375Z",.*\}\n$/);
    const json = JSON.parse(line.slice(9)) as Record<string, unknown>;
    assert.equal(Object.keys(json).length, 16);
    assert.equal(json.QueryDateUs, undefined);
  });

  it('only the 16 fields are kept, whatever else the object carries', () => {
    const stored = { ...record(1), ArrivalSeq: 42 };
    const decoded = decodeSpoolLine(encodeSpoolLine(stored).subarray(0, -1));
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.record, record(1));
  });

  it('refuses to encode what would not decode', () => {
    assert.throws(() => encodeSpoolLine(record(1, { QueryDateUs: -1 })), TypeError);
    assert.throws(() => encodeSpoolLine(record(1, { QueryDateUs: 1.5 })), TypeError);
    assert.throws(() => encodeSpoolLine(record(1, { CallDuration: Number.NaN })), TypeError);
    assert.throws(() => encodeSpoolLine(record(1, { RequestId: 5 as unknown as string })), TypeError);
  });

  it('any changed byte is caught', () => {
    const line = encodeSpoolLine(record(3)).subarray(0, -1);
    fc.assert(
      fc.property(fc.nat({ max: line.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const copy = Buffer.from(line);
        copy[at] = (copy[at] as number) ^ xor;
        assert.equal(decodeSpoolLine(copy).ok, false);
      }),
    );
  });

  it('says why a line is refused', () => {
    const reason = (text: string): string | undefined => {
      const decoded = decodeSpoolLine(Buffer.from(text));
      return decoded.ok ? undefined : decoded.reason;
    };
    assert.equal(reason('hello'), 'not a spool line');
    assert.equal(reason('ABCDEF01 {}'), 'not a spool line');
    const body = '{"RequestId":"x"}';
    assert.equal(reason(`${crc32(Buffer.from(body)).toString(16).padStart(8, '0')} ${body}`), 'AccountId is not a string');
    assert.equal(reason(`${crc32(Buffer.from('[1]')).toString(16).padStart(8, '0')} [1]`), 'not a JSON object');
    assert.equal(reason(`${crc32(Buffer.from('{')).toString(16).padStart(8, '0')} {`), 'not JSON');
    assert.equal(reason(`00000000 ${body}`), 'checksum mismatch');
  });
});

describe('DiskSpool', () => {
  it('replays every record in append order across several segments, then deletes them', async (t) => {
    const dir = tempDir(t);
    const spool = DiskSpool.open({ dir, segmentBytes: 2_048 });
    const appended: LogRecord[] = [];
    for (let i = 0; i < 40; i++) {
      const batch = records(appended.length, 1 + (i % 4));
      await spool.append(batch);
      appended.push(...batch);
    }
    assert.ok(segmentFiles(dir).length >= 4, `several segments, got ${segmentFiles(dir).length}`);
    assert.equal(spool.backlog().records, appended.length);
    assert.ok(spool.backlog().bytes > 0);

    const { records: replayed, batches } = await drain(spool, 7);
    assert.deepEqual(replayed, appended);
    assert.ok(batches.every((n) => n >= 1 && n <= 7));
    assert.deepEqual(spool.backlog(), { records: 0, bytes: 0 });
    assert.ok(segmentFiles(dir).length <= 1, 'only the active segment may remain');
    await spool.close();
    assert.deepEqual(segmentFiles(dir), []);
    assert.equal((await drain(DiskSpool.open({ dir }))).records.length, 0);
  });

  it('a batch never spans two segments', async (t) => {
    const dir = tempDir(t);
    const spool = DiskSpool.open({ dir, segmentBytes: 1_500 });
    for (let i = 0; i < 12; i++) await spool.append([record(i)]);
    await spool.close();
    const perSegment = segmentFiles(dir).map((name) => readFileSync(path.join(dir, name), 'utf8').split('\n').length - 1);
    const { batches } = await drain(DiskSpool.open({ dir }), 1_000);
    assert.deepEqual(batches, perSegment);
  });

  it('a replay stopped by a failing sink resumes after reopening, without repeating or skipping', async (t) => {
    const dir = tempDir(t);
    const first = DiskSpool.open({ dir, segmentBytes: 4_096 });
    await first.append(records(0, 50));
    const taken: LogRecord[] = [];
    let calls = 0;
    const outage = new Error('store down');
    await assert.rejects(
      first.replay(
        async (batch) => {
          if (++calls === 3) throw outage;
          taken.push(...batch);
        },
        { batchSize: 10 },
      ),
      (err) => err === outage,
    );
    assert.deepEqual(taken, records(0, 20));
    assert.equal(first.backlog().records, 30);
    await first.close();

    const second = DiskSpool.open({ dir, segmentBytes: 4_096 });
    assert.equal(second.backlog().records, 30);
    const { records: rest } = await drain(second, 10);
    assert.deepEqual(rest, records(20, 30));
    await second.close();
  });

  it('after a sink failure the same spool replays the rest next time', async (t) => {
    const spool = DiskSpool.open({ dir: tempDir(t), segmentBytes: 1_024 });
    await spool.append(records(0, 25));
    const taken: LogRecord[] = [];
    await assert.rejects(
      spool.replay(
        async (batch) => {
          if (taken.length >= 8) throw new Error('store down');
          taken.push(...batch);
        },
        { batchSize: 4 },
      ),
    );
    assert.equal(taken.length, 8);
    const { records: rest } = await drain(spool, 4);
    assert.deepEqual([...taken, ...rest], records(0, 25));
    await spool.close();
  });

  it('returns the number of records replayed', async (t) => {
    const spool = DiskSpool.open({ dir: tempDir(t) });
    await spool.append(records(0, 13));
    assert.equal(await spool.replay(async () => {}, { batchSize: 5 }), 13);
    assert.equal(await spool.replay(async () => {}), 0);
    await spool.close();
  });

  it('ignores a torn last line, and appends after a restart are not glued to it', async (t) => {
    const dir = tempDir(t);
    const first = DiskSpool.open({ dir });
    await first.append(records(0, 5));
    await first.close();
    const [segment] = segmentFiles(dir);
    const half = encodeSpoolLine(record(5));
    appendFileSync(path.join(dir, segment as string), half.subarray(0, Math.floor(half.length / 2)));

    const bad: BadLine[] = [];
    const second = DiskSpool.open({ dir, onBadLine: (line) => bad.push(line) });
    assert.equal(second.backlog().records, 5);
    await second.append(records(6, 3));
    const { records: replayed } = await drain(second);
    assert.deepEqual(replayed, [...records(0, 5), ...records(6, 3)]);
    assert.equal(second.stats().tornLines, 1);
    assert.equal(second.stats().corruptLines, 0);
    assert.deepEqual(bad.map((b) => [b.kind, b.segment]), [['torn', segment]]);
    assert.deepEqual(second.backlog(), { records: 0, bytes: 0 });
    await second.close();
  });

  it('skips and reports corrupt lines, and replays the others', async (t) => {
    const dir = tempDir(t);
    const first = DiskSpool.open({ dir });
    for (let i = 0; i < 5; i++) await first.append([record(i)]);
    await first.close();
    const file = path.join(dir, segmentFiles(dir)[0] as string);
    const lines = readFileSync(file, 'utf8').split('\n');
    lines[2] = (lines[2] as string).replace('req-000002', 'req-000666');
    lines.splice(4, 0, 'not a record at all');
    writeFileSync(file, lines.join('\n'));

    const bad: BadLine[] = [];
    const second = DiskSpool.open({ dir, onBadLine: (line) => bad.push(line) });
    assert.equal(second.backlog().records, 6);
    const { records: replayed } = await drain(second);
    assert.deepEqual(
      replayed.map((r) => r.RequestId),
      ['req-000000', 'req-000001', 'req-000003', 'req-000004'],
    );
    assert.equal(second.stats().corruptLines, 2);
    assert.deepEqual(
      bad.map((b) => [b.kind, b.reason]),
      [
        ['corrupt', 'checksum mismatch'],
        ['corrupt', 'not a spool line'],
      ],
    );
    const offsets = bad.map((b) => b.offset);
    const text = lines.join('\n');
    assert.deepEqual(offsets, [
      Buffer.byteLength(lines.slice(0, 2).join('\n') + '\n'),
      Buffer.byteLength(lines.slice(0, 4).join('\n') + '\n'),
    ]);
    assert.ok(offsets.every((o) => o < Buffer.byteLength(text)));
    assert.deepEqual(second.backlog(), { records: 0, bytes: 0 });
    await second.close();
  });

  it('groups appends made together into one write and one fsync', async (t) => {
    let syncs = 0;
    const spool = DiskSpool.open({
      dir: tempDir(t),
      syncFile: async (file) => {
        syncs++;
        await file.datasync();
      },
    });
    await Promise.all(Array.from({ length: 100 }, (_, i) => spool.append([record(i)])));
    // One for the segment's data; the directory sync of the new segment does not go through syncFile.
    assert.equal(syncs, 1);
    assert.deepEqual((await drain(spool)).records, records(0, 100));
    await spool.close();
  });

  it('appends that arrive during a sync share the next one (group commit)', async (t) => {
    let syncs = 0;
    let release!: () => void;
    const firstSyncHeld = new Promise<void>((resolve) => (release = resolve));
    let firstSyncStarted!: () => void;
    const started = new Promise<void>((resolve) => (firstSyncStarted = resolve));
    const spool = DiskSpool.open({
      dir: tempDir(t),
      syncFile: async (file) => {
        syncs++;
        if (syncs === 1) {
          firstSyncStarted();
          await firstSyncHeld;
        }
        await file.datasync();
      },
    });
    const first = spool.append([record(0)]);
    await started;
    const later = Array.from({ length: 50 }, (_, i) => spool.append([record(i + 1)]));
    release();
    await Promise.all([first, ...later]);
    assert.equal(syncs, 2);
    assert.deepEqual((await drain(spool)).records, records(0, 51));
    await spool.close();
  });

  it('an append resolves only after its sync', async (t) => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const spool = DiskSpool.open({ dir: tempDir(t), syncFile: () => held });
    let resolved = false;
    const pending = spool.append([record(0)]).then(() => (resolved = true));
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(resolved, false);
    release();
    await pending;
    assert.equal(resolved, true);
    await spool.close();
  });

  it('with fsync off, nothing is synced and records still replay', async (t) => {
    let syncs = 0;
    const dir = tempDir(t);
    const spool = DiskSpool.open({ dir, fsync: false, syncFile: async () => void syncs++ });
    await spool.append(records(0, 10));
    assert.equal((await drain(spool, 3)).records.length, 10);
    await spool.close();
    assert.equal(syncs, 0);
  });

  it('a failed sync rejects that append, leaves nothing of it, and later appends go to a fresh segment', async (t) => {
    const dir = tempDir(t);
    let fail = false;
    const spool = DiskSpool.open({
      dir,
      syncFile: async (file: FileHandle) => {
        if (fail) {
          fail = false;
          throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
        }
        await file.datasync();
      },
    });
    await spool.append(records(0, 3));
    fail = true;
    await assert.rejects(spool.append(records(100, 2)), /EIO/);
    await spool.append(records(3, 2));
    assert.equal(segmentFiles(dir).length, 2);
    assert.equal(spool.backlog().records, 5);
    assert.deepEqual((await drain(spool)).records, records(0, 5));
    await spool.close();
  });

  it('refuses a record it could not replay, without writing anything', async (t) => {
    const dir = tempDir(t);
    const spool = DiskSpool.open({ dir });
    await assert.rejects(spool.append([record(0), record(1, { QueryDateUs: -5 })]), TypeError);
    assert.deepEqual(spool.backlog(), { records: 0, bytes: 0 });
    assert.deepEqual(segmentFiles(dir), []);
    await spool.close();
  });

  it('records appended while a replay runs are kept for the next replay', async (t) => {
    const spool = DiskSpool.open({ dir: tempDir(t), segmentBytes: 1_024 });
    await spool.append(records(0, 10));
    const seen: LogRecord[] = [];
    let added = 0;
    await spool.replay(
      async (batch) => {
        seen.push(...batch);
        if (added < 6) {
          await spool.append(records(10 + added, 3));
          added += 3;
        }
      },
      { batchSize: 4 },
    );
    const { records: rest } = await drain(spool);
    const all = [...seen, ...rest];
    assert.deepEqual(
      all.map((r) => r.RequestId),
      records(0, 16).map((r) => r.RequestId),
    );
    assert.deepEqual(spool.backlog(), { records: 0, bytes: 0 });
    await spool.close();
  });

  it('replays the records of the active segment, then those appended to it later', async (t) => {
    const dir = tempDir(t);
    const spool = DiskSpool.open({ dir });
    await spool.append(records(0, 4));
    assert.deepEqual((await drain(spool)).records, records(0, 4));
    await spool.append(records(4, 4));
    assert.deepEqual((await drain(spool)).records, records(4, 4));
    await spool.close();
    assert.deepEqual(segmentFiles(dir), []);
  });

  it('concurrent replays run one after the other and never send a record twice', async (t) => {
    const spool = DiskSpool.open({ dir: tempDir(t), segmentBytes: 2_048 });
    await spool.append(records(0, 60));
    const seen: string[] = [];
    const sink = async (batch: LogRecord[]): Promise<void> => {
      await new Promise<void>((resolve) => setImmediate(resolve));
      seen.push(...batch.map((r) => r.RequestId));
    };
    const counts = await Promise.all([spool.replay(sink, { batchSize: 7 }), spool.replay(sink, { batchSize: 7 })]);
    assert.equal(counts[0] + counts[1], 60);
    assert.deepEqual(
      seen,
      records(0, 60).map((r) => r.RequestId),
    );
    await spool.close();
  });

  it('an unreadable checkpoint restarts from the oldest segment: records may repeat, none is lost', async (t) => {
    const dir = tempDir(t);
    const first = DiskSpool.open({ dir });
    await first.append(records(0, 6));
    let calls = 0;
    await assert.rejects(
      first.replay(
        async () => {
          if (++calls === 2) throw new Error('store down');
        },
        { batchSize: 2 },
      ),
    );
    assert.equal(first.backlog().records, 4);
    await first.close();
    writeFileSync(path.join(dir, 'checkpoint.json'), '{"segment":');
    const second = DiskSpool.open({ dir });
    assert.equal(second.stats().checkpointResets, 1);
    assert.deepEqual((await drain(second)).records, records(0, 6));
    await second.close();
  });

  it('waits for pending appends on close, then refuses new ones', async (t) => {
    const dir = tempDir(t);
    const spool = DiskSpool.open({ dir });
    const pending = spool.append(records(0, 3));
    await spool.close();
    await pending;
    await assert.rejects(spool.append(records(3, 1)), /closed/);
    await assert.rejects(spool.replay(async () => {}), /closed/);
    assert.deepEqual((await drain(DiskSpool.open({ dir }))).records, records(0, 3));
  });

  it('rejects invalid options', async (t) => {
    const dir = tempDir(t);
    assert.throws(() => DiskSpool.open({ dir, segmentBytes: 0 }), RangeError);
    const spool = DiskSpool.open({ dir });
    await assert.rejects(spool.replay(async () => {}, { batchSize: 0 }), RangeError);
    await spool.close();
  });

  it('never loses an acknowledged record when the writing process is killed with SIGKILL', async (t) => {
    const dir = tempDir(t);
    const acknowledged: string[] = [];
    for (const tag of ['a', 'b', 'c']) {
      acknowledged.push(...(await runCrashWriter(dir, tag, 100 + Math.floor(Math.random() * 400))));
    }
    const spool = DiskSpool.open({ dir });
    const { records: replayed } = await drain(spool, 50);
    // A killed process leaves at most a torn end per segment it was writing, never a bad complete line.
    assert.equal(spool.stats().corruptLines, 0);
    assert.ok(spool.stats().tornLines <= 3);
    await spool.close();

    // Only appends ran: nothing can be replayed twice, so the check is strict.
    const ids = replayed.map((r) => r.RequestId);
    assert.equal(new Set(ids).size, ids.length, 'no record replayed twice');
    const position = new Map(ids.map((id, i) => [id, i]));
    const missing = acknowledged.filter((id) => !position.has(id));
    assert.deepEqual(missing, [], 'every acknowledged record is replayed');
    const order = acknowledged.map((id) => position.get(id) as number);
    assert.ok(
      order.every((p, i) => i === 0 || p > (order[i - 1] as number)),
      'acknowledged records come back in acknowledgement order',
    );
    for (const tag of ['a', 'b', 'c']) {
      assert.ok(acknowledged.some((id) => id.startsWith(`${tag}-`)), `writer ${tag} acknowledged records`);
    }
  });

  it('never loses an acknowledged record when killed while replaying; at most the last batch repeats', async (t) => {
    const dir = tempDir(t);
    const storeFile = path.join(tempDir(t), 'store.txt');
    writeFileSync(storeFile, '');
    const acknowledged: string[] = [];
    for (const tag of ['a', 'b', 'c']) {
      acknowledged.push(...(await runCrashWriter(dir, tag, 100 + Math.floor(Math.random() * 400), storeFile)));
    }
    const stored = readFileSync(storeFile, 'utf8').split('\n').filter((line) => line !== '');
    assert.ok(stored.length > 0, 'the killed processes replayed some records');
    const spool = DiskSpool.open({ dir });
    stored.push(...(await drain(spool, 50)).records.map((r) => r.RequestId));
    assert.equal(spool.stats().corruptLines, 0);
    await spool.close();

    // At-least-once: a batch the sink took just before the kill, before the checkpoint moved, comes
    // again (the store absorbs it by RequestId). Each kill can repeat at most one batch of 7.
    const firstSeen = new Map<string, number>();
    stored.forEach((id, i) => {
      if (!firstSeen.has(id)) firstSeen.set(id, i);
    });
    assert.ok(stored.length - firstSeen.size <= 3 * 7, `${stored.length - firstSeen.size} repeats`);
    const missing = acknowledged.filter((id) => !firstSeen.has(id));
    assert.deepEqual(missing, [], 'every acknowledged record reached the store');
    const order = acknowledged.map((id) => firstSeen.get(id) as number);
    assert.ok(
      order.every((p, i) => i === 0 || p > (order[i - 1] as number)),
      'acknowledged records reach the store in acknowledgement order',
    );
  });
});

/**
 * Runs the crash writer until it has acknowledged at least `killAfter` records, kills it with SIGKILL
 * and returns the RequestIds it acknowledged (complete lines of its output only).
 */
function runCrashWriter(dir: string, tag: string, killAfter: number, storeFile?: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', CRASH_WRITER, dir, tag];
    if (storeFile !== undefined) args.push(storeFile);
    const child = spawn(process.execPath, args, {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let killed = false;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (!killed && out.split('\n').length - 1 >= killAfter) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (chunk: string) => (err += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') {
        reject(new Error(`crash writer ended with code ${code}: ${err}`));
        return;
      }
      const lines = out.split('\n');
      lines.pop(); // the part after the last newline may be cut
      resolve(lines);
    });
  });
}
