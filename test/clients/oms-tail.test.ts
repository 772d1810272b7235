/**
 * `oms tail` as a subprocess against a real `oms serve` while the test process writes 5,000 records a
 * second into the same store for 30 s, groups of them sharing a timestamp and some arriving late.
 */
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LogRecord } from '../../src/domain/index.js';
import { toWireLog } from '../../src/domain/index.js';
import type { LogCursor } from '../../src/store/index.js';
import { formatIsoUs, makeRecord, startTestServer, type TestServer } from '../fixtures/test-server.js';
import { oms, spawnOms, startCaptureServer } from '../fixtures/oms-cli.js';

const dirs: string[] = [];
const cleanups: (() => void)[] = [];
after(() => {
  for (const cleanup of cleanups) cleanup();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const RATE_PER_S = 5_000;
const DURATION_S = 30;
const TICK_MS = 100;
/** Generous for a loaded machine: on two busy cores an append has been seen to take seconds to commit. */
const LATE_S = 30;

async function storedSince(t: TestServer, accountId: string, fromUs: number): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let after: LogCursor | undefined;
  for (;;) {
    const page = await t.stores.logs.readPage({ accountId, fromUs, toUs: Number.MAX_SAFE_INTEGER, limit: 1000, ...(after ? { after } : {}) });
    for (const r of page.records) {
      if (r.QueryCallName !== 'ReadApiLogs') out.set(r.RequestId, JSON.stringify(toWireLog(r)));
    }
    const last = page.records.at(-1);
    if (!page.hasMore || last === undefined) return out;
    after = { dateUs: last.QueryDateUs, seq: last.ArrivalSeq };
  }
}

/** Counts the lines of a growing file, reading only what was added since the last call. */
function lineCounter(file: string): () => number {
  let offset = 0;
  let lines = 0;
  const buffer = Buffer.alloc(1 << 20);
  return () => {
    if (!existsSync(file)) return 0;
    const fd = openSync(file, 'r');
    try {
      for (;;) {
        const n = readSync(fd, buffer, 0, buffer.length, offset);
        if (n === 0) return lines;
        for (let i = buffer.indexOf(10, 0); i !== -1 && i < n; i = buffer.indexOf(10, i + 1)) lines++;
        offset += n;
      }
    } finally {
      closeSync(fd);
    }
  };
}

function printedLines(file: string): string[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  return text.split('\n').filter((line) => line !== '');
}

describe('oms tail under load', () => {
  it('prints exactly the records the store holds for the period, each once, late arrivals included', { timeout: 300_000 }, async (ctx) => {
    const t = await startTestServer();
    try {
      const key = await t.createKey();
      const dir = mkdtempSync(path.join(tmpdir(), 'oms-tail-'));
      dirs.push(dir);
      const out = path.join(dir, 'tail.ndjson');
      const sinceUs = Date.now() * 1000 - 2_000_000;
      const env = { HOME: dir, OSC_ACCESS_KEY: key.accessKeyId, OSC_SECRET_KEY: key.secretKey, OSC_ENDPOINT_API: t.url };
      const tail = spawnOms(['tail', '--since', formatIsoUs(sinceUs), '--interval', '1', '--late', String(LATE_S), '--ignore', 'ReadApiLogs', '--write', out], env);
      let stderr = '';
      tail.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<number | null>((resolve) => tail.once('exit', (code) => resolve(code)));
      // Whatever fails below, the tail does not outlive the test.
      cleanups.push(() => {
        if (tail.exitCode === null && tail.signalCode === null) tail.kill('SIGKILL');
      });

      // The writer: 5,000 records a second for 30 s, every 100 ms what is due so far (a slow tick is made
      // up by the next, so the rate holds on a busy machine), in groups of 5 sharing a QueryDate; one in
      // 50 dated up to 4 s back (it becomes readable late, behind records already followed).
      let written = 0;
      let late = 0;
      const lateness = new Map<string, number>();
      const startMs = Date.now();
      for (;;) {
        const elapsedMs = Math.min(Date.now() - startMs, DURATION_S * 1000);
        const due = Math.floor((elapsedMs * RATE_PER_S) / 1000) - written;
        const nowUs = Date.now() * 1000;
        const batch: LogRecord[] = [];
        for (let i = 0; i < due; i++) {
          const isLate = i % 50 === 7;
          if (isLate) late++;
          const dateUs = isLate ? nowUs - 1_000_000 - ((i * 7919) % 3_000_000) : nowUs - 20_000 + Math.floor(i / 5) * 100;
          batch.push(makeRecord({ AccountId: key.accountId, QueryDateUs: dateUs, QueryCallName: i % 3 === 0 ? 'ReadVms' : 'CreateTags' }));
        }
        if (batch.length > 0) await t.seed(batch);
        // When each record became readable, to tell a miss from a record later than --late.
        const committedUs = Date.now() * 1000;
        for (const r of batch) lateness.set(r.RequestId, committedUs - r.QueryDateUs);
        written += batch.length;
        if (elapsedMs >= DURATION_S * 1000) break;
        await sleep(TICK_MS);
      }
      assert.equal(written, RATE_PER_S * DURATION_S, 'the writer added 5,000 records a second for 30 s');

      const expected = await storedSince(t, key.accountId, sinceUs);
      // All but the late records of the first ticks, dated before --since.
      assert.ok(expected.size > written - late && expected.size <= written, `${expected.size} of ${written}`);
      // Let the tail pass the late window once more, then stop it as a user would.
      // On a busy machine the tail may trail the writer: wait while it makes progress (at most 150 s).
      const waitStart = Date.now();
      const countPrinted = lineCounter(out);
      let seen = -1;
      let lastProgress = Date.now();
      while (Date.now() - waitStart < 150_000 && Date.now() - lastProgress < 20_000) {
        const n = countPrinted();
        if (n >= expected.size) break;
        if (n > seen) {
          seen = n;
          lastProgress = Date.now();
        }
        await sleep(1_000);
      }
      ctx.diagnostic(`the tail caught up ${Math.round((Date.now() - waitStart) / 1000)} s after the writer stopped`);
      await sleep((LATE_S + 2) * 1000);
      tail.kill('SIGINT');
      assert.equal(await exited, 0, stderr);

      const lines = printedLines(out);
      const ids = lines.map((l) => JSON.parse(l).RequestId as string);
      assert.equal(new Set(ids).size, ids.length, 'no record printed twice');
      const printedIds = new Set(ids);
      const missed = [...expected.keys()].filter((id) => !printedIds.has(id));
      let worstMissUs = 0;
      for (const id of missed) worstMissUs = Math.max(worstMissUs, lateness.get(id) ?? 0);
      let worstUs = 0;
      for (const us of lateness.values()) worstUs = Math.max(worstUs, us);
      ctx.diagnostic(`records became readable at most ${(worstUs / 1e6).toFixed(1)} s after their QueryDate`);
      assert.equal(lines.length, expected.size, `printed ${lines.length} of ${expected.size} (${late} written late); the missed ones became readable up to ${(worstMissUs / 1e6).toFixed(1)} s after their QueryDate`);
      for (const line of lines) {
        const id = JSON.parse(line).RequestId as string;
        assert.equal(line, expected.get(id), 'each printed record is the stored one, whole');
      }
      assert.match(stderr, new RegExp(`^oms tail: following .* records up to ${LATE_S} s late are caught\n`));
    } finally {
      await t.close();
    }
  });
});

describe('oms tail formats and stops', () => {
  it('--count stops after N records; table, csv and json formats; bad flags are one line', async () => {
    const t = await startTestServer();
    try {
      const key = await t.createKey();
      const now = Date.now() * 1000;
      const records = Array.from({ length: 6 }, (_, i) =>
        makeRecord({ AccountId: key.accountId, QueryDateUs: now - 10_000_000 + i, QueryCallName: i === 2 ? 'CreateVolume' : 'ReadVms', QueryUserAgent: 'agent, "quoted"' }),
      );
      await t.seed(records);
      const dir = mkdtempSync(path.join(tmpdir(), 'oms-tail-'));
      dirs.push(dir);
      const env = { HOME: dir, OSC_ACCESS_KEY: key.accessKeyId, OSC_SECRET_KEY: key.secretKey, OSC_ENDPOINT_API: t.url };
      const since = formatIsoUs(now - 60_000_000);

      const json = await oms(['tail', '--since', since, '--count', '4', '--ignore', 'CreateVolume', '--format', 'json', '--interval', '1'], { env });
      assert.equal(json.code, 0, json.stderr);
      const array = JSON.parse(json.stdout);
      assert.deepEqual(array.map((l: any) => l.RequestId), [records[0], records[1], records[3], records[4]].map((r) => r!.RequestId));

      const csv = await oms(['tail', '--since', since, '--count', '1', '--format', 'csv'], { env });
      assert.equal(csv.code, 0, csv.stderr);
      const [header, row] = csv.stdout.split('\r\n');
      assert.equal(header, 'AccountId,CallDuration,QueryAccessKey,QueryApiName,QueryApiVersion,QueryCallName,QueryDate,QueryHeaderRaw,QueryHeaderSize,QueryIpAddress,QueryPayloadRaw,QueryPayloadSize,QueryUserAgent,RequestId,ResponseSize,ResponseStatusCode');
      assert.ok(row!.startsWith(`${key.accountId},1234,`), row);
      assert.ok(row!.includes(',"agent, ""quoted""",'), row);

      const table = await oms(['tail', '--since', since, '--count', '2', '--format', 'table'], { env });
      assert.equal(table.code, 0, table.stderr);
      const rows = table.stdout.trimEnd().split('\n');
      assert.match(rows[0]!, /^QueryDate\s+Call\s+Status\s+ms\s+IP\s+AccessKey\s+RequestId$/);
      assert.ok(rows[1]!.startsWith(formatIsoUs(records[0]!.QueryDateUs)));
      assert.ok(rows[1]!.includes('ReadVms') && rows[1]!.endsWith(records[0]!.RequestId));
      assert.equal(rows.length, 3);

      for (const [args, message] of [
        [['--format', 'xml'], /--format must be one of ndjson, json, table, csv/],
        [['--interval', '0'], /--interval must be a number greater than 0/],
        [['--count', '2.5'], /--count must be a whole number/],
        [['--since', 'yesterday'], /--since must be an ISO 8601 date/],
        [['--follow'], /unknown option '--follow'/],
      ] as const) {
        const result = await oms(['tail', ...args], { env });
        assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
        assert.match(result.stderr, message);
      }
    } finally {
      await t.close();
    }
  });

  it('backs off on 503 and 429 with Retry-After, then goes on', async () => {
    let calls = 0;
    const log = { AccountId: '123456789012', QueryDate: new Date().toISOString().replace('Z', '000Z'), RequestId: 'r-1', QueryCallName: 'ReadVms' };
    const capture = await startCaptureServer(() => {
      calls += 1;
      if (calls === 1) return { status: 503, body: '{"Errors":[{"Code":"2001","Type":"ServiceUnavailable","Details":"down"}],"ResponseContext":{"RequestId":"x"}}', headers: { 'retry-after': '1' } };
      if (calls === 2) return { status: 429, body: '{"Errors":[{"Code":"10","Type":"RequestLimitExceeded","Details":"slow down"}],"ResponseContext":{"RequestId":"y"}}', headers: { 'retry-after': '1' } };
      return { status: 200, body: JSON.stringify({ ResponseContext: { RequestId: 'z' }, Logs: [log] }) };
    });
    try {
      const dir = mkdtempSync(path.join(tmpdir(), 'oms-tail-'));
      dirs.push(dir);
      const started = Date.now();
      const result = await oms(['tail', '--count', '1', '--since', '2020-01-01'], {
        env: { HOME: dir, OSC_ACCESS_KEY: 'AKIAOMSCLIENT0000001', OSC_SECRET_KEY: 'S'.repeat(40), OSC_ENDPOINT_API: `http://127.0.0.1:${capture.port}` },
      });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(JSON.parse(result.stdout).RequestId, 'r-1');
      assert.match(result.stderr, /ReadApiLogs answered HTTP 503 2001 ServiceUnavailable: down; trying again in \d s/);
      assert.match(result.stderr, /ReadApiLogs answered HTTP 429 10 RequestLimitExceeded: slow down; trying again in \d s/);
      assert.ok(Date.now() - started >= 1_500, 'it waited as Retry-After asked');
      assert.equal(calls, 3);
    } finally {
      await capture.close();
    }
  });
});
