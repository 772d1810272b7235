/**
 * `oms archive` as a subprocess against a real `oms serve`: killed with SIGKILL at random moments, then
 * run to the end; the manifest checked against the files; the archive restored with `oms admin import`
 * into an empty store. Then its refusals: another account's directory, a damaged checkpoint, a full disk.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { US_PER_DAY, type LogRecord } from '../../src/domain/index.js';
import { toWireLog } from '../../src/domain/index.js';
import type { LogCursor } from '../../src/store/index.js';
import { SqliteLogStore } from '../../src/store/sqlite/sqlite-log-store.js';
import { makeRecord, startTestServer, type TestKey, type TestServer } from '../fixtures/test-server.js';
import { oms, spawnOms, startCaptureServer } from '../fixtures/oms-cli.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'oms-archive-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function listFiles(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full, base));
    else out.push(path.relative(base, full));
  }
  return out.sort();
}

function keyEnv(t: TestServer, key: TestKey, home: string): Record<string, string> {
  return { HOME: home, OSC_ACCESS_KEY: key.accessKeyId, OSC_SECRET_KEY: key.secretKey, OSC_ENDPOINT_API: t.url };
}

const dayIso = (us: number) => new Date(us / 1000).toISOString().slice(0, 10);

/**
 * The runs below are told `--late LATE_S`, so yesterday is final LATE_S seconds after midnight UTC.
 * A test that expects "every day before today" must neither start inside those seconds nor cross
 * midnight while it runs: near a day boundary it waits for the new day, and then works with that day.
 */
const LATE_S = 5;
const ROOM_BEFORE_MIDNIGHT_MS = 4 * 60_000;
async function todayWithRoom(): Promise<number> {
  for (;;) {
    const nowMs = Date.now();
    const intoDayMs = nowMs % 86_400_000;
    if (intoDayMs < (LATE_S + 1) * 1000) await sleep((LATE_S + 1) * 1000 - intoDayMs);
    else if (intoDayMs > 86_400_000 - ROOM_BEFORE_MIDNIGHT_MS) await sleep(86_400_000 - intoDayMs + (LATE_S + 1) * 1000);
    else return (nowMs - intoDayMs) * 1000;
  }
}

/** Records over the `days` days before today, groups sharing timestamps, and a few today. */
function recordsOverDays(todayStartUs: number, accountId: string, days: number, perDay: number): { past: LogRecord[]; today: LogRecord[] } {
  const start = todayStartUs - days * US_PER_DAY;
  const past: LogRecord[] = [];
  for (let d = 0; d < days; d++) {
    for (let i = 0; i < perDay; i++) {
      // Evenly over the day, groups of four on one microsecond; the first and last microsecond of the day too.
      const offset = i === 0 ? 0 : i === perDay - 1 ? US_PER_DAY - 1 : Math.floor(i / 4) * Math.floor(US_PER_DAY / (perDay / 4 + 1));
      past.push(makeRecord({ AccountId: accountId, QueryDateUs: start + d * US_PER_DAY + offset, QueryCallName: i % 2 ? 'ReadVms' : 'DeleteVolume' }));
    }
  }
  const today = [makeRecord({ AccountId: accountId, QueryDateUs: Math.min(Date.now() * 1000 - 1_000_000, todayStartUs + 1) })];
  return { past, today };
}

describe('oms archive', () => {
  it('killed with SIGKILL five times, then run to the end: every record once, manifest true, restore equal', { timeout: 240_000 + ROOM_BEFORE_MIDNIGHT_MS }, async (ctx) => {
    const todayStartUs = await todayWithRoom();
    const t = await startTestServer();
    try {
      const key = await t.createKey();
      // Enough days that five kills land before the work is done: a run killed after at most one more
      // day leaves days for the next.
      const days = 10;
      const { past, today } = recordsOverDays(todayStartUs, key.accountId, days, 6_000);
      await t.seed([...past, ...today]);
      const home = tempDir();
      const out = path.join(tempDir(), 'archive');
      const since = dayIso(todayStartUs - days * US_PER_DAY);
      const env = keyEnv(t, key, home);

      const kills: string[] = [];
      let landed = 0;
      for (let run = 0; landed < 5 && run < 20; run++) {
        const child = spawnOms(['archive', '--late', String(LATE_S), '--out', out, '--since', since], env);
        let stderr = '';
        child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
        const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
        // A random moment of the work: after 0 or 1 more day written by this run, then 0 to 400 ms into
        // the next (reading pages, gzip, rename, manifest or checkpoint).
        const daysBefore = Math.floor(Math.random() * 2);
        const extraMs = Math.floor(Math.random() * 400);
        const daysWritten = () => stderr.split('\n').filter((l) => l.startsWith('{"Day"')).length;
        let finished: number | null | undefined;
        void exited.then((code) => (finished = code));
        while (finished === undefined && daysWritten() < daysBefore) await sleep(5);
        if (finished === undefined) await sleep(extraMs);
        if (finished === undefined) {
          child.kill('SIGKILL');
          await exited;
          kills.push(`killed ${extraMs} ms after its day ${daysWritten()}`);
          landed++;
        } else {
          kills.push(`finished by itself (${finished})`);
        }
      }
      ctx.diagnostic(kills.join('; '));
      assert.equal(landed, 5, `five kills landed mid-run: ${kills.join('; ')}`);
      const last = await oms(['archive', '--late', String(LATE_S), '--out', out, '--since', since], { env });
      assert.equal(last.code, 0, `${last.stderr}\n${kills.join('; ')}`);
      const summary = JSON.parse(last.stdout);
      assert.equal(summary.AccountId, key.accountId);
      assert.equal(summary.NextFrom, new Date(todayStartUs / 1000).toISOString().replace('Z', '000Z'));

      // Exactly the manifest, the checkpoint and one file per past day: nothing partial, no lock.
      const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
      const expectedFiles = Array.from({ length: days }, (_, d) => {
        const iso = dayIso(todayStartUs - (days - d) * US_PER_DAY);
        return `${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}.ndjson.gz`;
      });
      assert.deepEqual(listFiles(out), [...expectedFiles, 'checkpoint.json', 'manifest.json'].sort(), kills.join('; '));
      assert.equal(manifest.Format, 'oms-archive/1');
      assert.equal(manifest.AccountId, key.accountId);
      assert.deepEqual(manifest.Files.map((f: any) => f.File), expectedFiles);

      const archived: string[] = [];
      for (const entry of manifest.Files) {
        const bytes = readFileSync(path.join(out, entry.File));
        assert.equal(createHash('sha256').update(bytes).digest('hex'), entry.Sha256, entry.File);
        assert.equal(bytes.length, entry.Bytes, entry.File);
        const lines = gunzipSync(bytes).toString('utf8').split('\n').filter((l) => l !== '');
        assert.equal(lines.length, entry.Records, entry.File);
        assert.equal(entry.To, new Date(Date.parse(entry.From) + 86_400_000).toISOString().replace('Z', '000Z'));
        for (const line of lines) {
          const date = JSON.parse(line).QueryDate as string;
          assert.ok(date >= entry.From && date < entry.To, `${date} belongs in ${entry.File}`);
        }
        archived.push(...lines);
      }
      const expected = past.map((r) => JSON.stringify(toWireLog(r)));
      assert.equal(archived.length, expected.length, 'every record exactly once');
      assert.deepEqual(new Set(archived), new Set(expected));

      // Restore into an empty store with oms admin import, then read everything back.
      const restored = tempDir();
      let imported = 0;
      for (const entry of manifest.Files) {
        const result = await oms(['admin', 'import', '--data', restored, path.join(out, entry.File)]);
        assert.equal(result.code, 0, result.stderr);
        const report = JSON.parse(result.stdout);
        assert.deepEqual(report.Rejected, []);
        assert.equal(report.Duplicates, 0);
        imported += report.Imported;
      }
      assert.equal(imported, expected.length);
      const store = new SqliteLogStore({ path: path.join(restored, 'logs.db') });
      try {
        const back: string[] = [];
        let cursor: LogCursor | undefined;
        for (;;) {
          const page = await store.readPage({ accountId: key.accountId, fromUs: 0, toUs: Number.MAX_SAFE_INTEGER, limit: 1000, ...(cursor ? { after: cursor } : {}) });
          back.push(...page.records.map((r) => JSON.stringify(toWireLog(r))));
          const tail = page.records.at(-1);
          if (!page.hasMore || tail === undefined) break;
          cursor = { dateUs: tail.QueryDateUs, seq: tail.ArrivalSeq };
        }
        assert.deepEqual(new Set(back), new Set(expected));
        assert.equal(back.length, expected.length);
      } finally {
        await store.close();
      }

      // A second run later has nothing to add and leaves the archive as it was.
      const again = await oms(['archive', '--late', String(LATE_S), '--out', out], { env });
      assert.equal(again.code, 0, again.stderr);
      assert.equal(JSON.parse(again.stdout).DaysWritten, 0);
      assert.deepEqual(JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')), manifest);
    } finally {
      await t.close();
    }
  });

  it('refuses another account\'s directory, a damaged checkpoint or manifest, and a full disk, with one line', { timeout: 120_000 + ROOM_BEFORE_MIDNIGHT_MS }, async () => {
    const todayStartUs = await todayWithRoom();
    const t = await startTestServer();
    try {
      const owner = await t.createKey();
      const other = await t.createKey();
      const { past } = recordsOverDays(todayStartUs, owner.accountId, 2, 50);
      await t.seed(past);
      await t.seed(recordsOverDays(todayStartUs, other.accountId, 1, 5).past);
      const home = tempDir();
      const since = dayIso(todayStartUs - 2 * US_PER_DAY);

      // A full disk: the first day's partial file is /dev/full, whose writes fail with ENOSPC.
      const out = path.join(tempDir(), 'archive');
      const firstDay = dayIso(todayStartUs - 2 * US_PER_DAY);
      const dayFile = path.join(out, firstDay.slice(0, 4), firstDay.slice(5, 7), `${firstDay.slice(8, 10)}.ndjson.gz`);
      mkdirSync(path.dirname(dayFile), { recursive: true });
      symlinkSync('/dev/full', `${dayFile}.partial`);
      const full = await oms(['archive', '--late', String(LATE_S), '--out', out, '--since', since], { env: keyEnv(t, owner, home) });
      assert.equal(full.code, 1, full.stderr);
      assert.match(full.stderr, /^oms: disk full while writing .*\.ndjson\.gz: nothing of it was kept as complete; free some space and run again to continue\n$/);
      assert.equal(existsSync(dayFile), false);
      assert.equal(existsSync(`${dayFile}.partial`), false);
      assert.equal(existsSync(path.join(out, 'manifest.json')), false);

      const ok = await oms(['archive', '--late', String(LATE_S), '--out', out, '--since', since], { env: keyEnv(t, owner, home) });
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(JSON.parse(ok.stdout).Records, past.length);
      const progress = ok.stderr.trimEnd().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(progress.map((p) => [p.Day, p.Records, p.DaysDone]), [[firstDay, 50, 1], [dayIso(todayStartUs - US_PER_DAY), 50, 2]]);

      const resumed = await oms(['archive', '--late', String(LATE_S), '--out', out, '--since', since], { env: keyEnv(t, owner, home) });
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.deepEqual(JSON.parse(resumed.stderr), { ContinuesFrom: new Date(todayStartUs / 1000).toISOString().replace('Z', '000Z'), SinceIgnored: true });

      const intruder = await oms(['archive', '--late', String(LATE_S), '--out', out], { env: keyEnv(t, other, home) });
      assert.equal(intruder.code, 1, intruder.stderr);
      assert.match(intruder.stderr, new RegExp(`^oms: .* holds the archive of account ${owner.accountId}; these credentials are of account ${other.accountId}\\n$`));

      const checkpoint = path.join(out, 'checkpoint.json');
      const good = readFileSync(checkpoint, 'utf8');
      for (const damaged of ['{"Format":"oms-archive-checkpoint/1",', JSON.stringify({ ...JSON.parse(good), NextFrom: 'soon' })]) {
        writeFileSync(checkpoint, damaged);
        const result = await oms(['archive', '--late', String(LATE_S), '--out', out], { env: keyEnv(t, owner, home) });
        assert.equal(result.code, 1, result.stderr);
        assert.match(result.stderr, /^oms: the checkpoint .*checkpoint\.json is damaged.*\n$/);
      }
      writeFileSync(checkpoint, good);
      writeFileSync(path.join(out, 'manifest.json'), '[]');
      const badManifest = await oms(['archive', '--late', String(LATE_S), '--out', out], { env: keyEnv(t, owner, home) });
      assert.equal(badManifest.code, 1);
      assert.match(badManifest.stderr, /^oms: the manifest .* is damaged/);

      for (const [args, code, message] of [
        [['archive'], 2, /--out DIR is required/],
        [['archive', '--out', out, '--since', '2026-13-01'], 2, /--since must be an ISO 8601 date/],
        [['archive', '--out', out, '--tail'], 2, /unknown option '--tail'/],
      ] as const) {
        const result = await oms([...args], { env: keyEnv(t, owner, home) });
        assert.equal(result.code, code, result.stderr);
        assert.match(result.stderr, message);
      }
    } finally {
      await t.close();
    }
  });

  it('sends day windows to the region\'s public API when no endpoint is given', async () => {
    const capture = await startCaptureServer(() => ({ status: 200, body: '{"ResponseContext":{"RequestId":"r"},"Logs":[]}' }));
    try {
      const { runArchive } = await import('../../src/cli/commands/archive.js');
      const { TextSink } = await import('../fixtures/oms-cli.js');
      const out = path.join(tempDir(), 'archive');
      const nowMs = Date.UTC(2026, 10, 5, 12, 0, 0);
      const home = tempDir();
      mkdirSync(path.join(home, '.osc'));
      writeFileSync(path.join(home, '.osc', 'config.json'), JSON.stringify({ default: { access_key: 'AKIAOMSCLIENT0000001', secret_key: 'S'.repeat(40), region: 'us-east-2' } }));
      const summary = await runArchive(
        { out, since: '2026-11-03T06:00:00Z', late: '60' },
        { env: {}, homeDir: home, stdout: new TextSink() as never, stderr: new TextSink() as never, dispatcher: capture.dispatcher, nowMs: () => nowMs },
        new AbortController().signal,
      );
      assert.equal(summary.DaysWritten, 2);
      const sent = capture.requests.map((r) => [r.headers.host, r.url, r.body]);
      const host = 'api.us-east-2.outscale.com';
      // Three looks for the account (none has logs here), then the two final days, the first from --since.
      assert.deepEqual(sent, [
        [host, '/api/v1/ReadApiLogs', '{"ResultsPerPage":1}'],
        [host, '/api/v1/ReadApiLogs', '{"ResultsPerPage":1}'],
        [host, '/api/v1/ReadApiLogs', '{"ResultsPerPage":1}'],
        [host, '/api/v1/ReadApiLogs', '{"Filters":{"QueryDateAfter":"2026-11-03T06:00:00.000000Z","QueryDateBefore":"2026-11-04T00:00:00.000000Z"},"ResultsPerPage":1000}'],
        [host, '/api/v1/ReadApiLogs', '{"Filters":{"QueryDateAfter":"2026-11-04T00:00:00.000000Z","QueryDateBefore":"2026-11-05T00:00:00.000000Z"},"ResultsPerPage":1000}'],
      ]);
      for (const r of capture.requests) assert.match(String(r.headers.authorization), /^OSC4-HMAC-SHA256 Credential=AKIAOMSCLIENT0000001\/20261105\/us-east-2\/api\/osc4_request, SignedHeaders=content-type;host;x-osc-date, Signature=[0-9a-f]{64}$/);
      assert.equal(statSync(path.join(out, '2026', '11', '04.ndjson.gz')).isFile(), true);

      // --follow on a terminal: a progress bar, then it waits for the current day to be final, until stopped.
      const stderr = new TextSink();
      stderr.isTTY = true;
      const stop = new AbortController();
      const following = runArchive(
        { out, follow: true, late: '60' },
        { env: {}, homeDir: home, stdout: new TextSink() as never, stderr: stderr as never, dispatcher: capture.dispatcher, nowMs: () => nowMs + 86_400_000 },
        stop.signal,
      );
      for (let i = 0; i < 400 && !stderr.text.includes('up to date'); i++) await sleep(10);
      stop.abort();
      const followed = await following;
      assert.equal(followed.DaysWritten, 1);
      assert.match(stderr.text, /\r\[#+\.*\] 1\/1 days {2}0 records {2}2026-11-05 {2}ETA 0s/);
      assert.match(stderr.text, /oms archive: up to date; 2026-11-06 is written once it is final, at 2026-11-07T00:01:00.000000Z/);
    } finally {
      await capture.close();
    }
  });
});
