import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { formatIsoUs, LOG_FIELDS, type Log } from '../../src/domain/index.js';
import { INGEST_TOKEN, postIngest } from '../fixtures/ingest-client.js';
import { callSigned, startTestServer, type TestServer } from '../fixtures/test-server.js';

const HOUR_US = 3_600_000_000;
const DAY_US = 24 * HOUR_US;

// Any text that UTF-8 can carry: NUL, controls, quotes, backslashes, astral characters.
const anyText = (maxLength: number) => fc.string({ unit: 'binary', maxLength }).filter((s) => s.isWellFormed());
const token = (pattern: RegExp) => fc.stringMatching(pattern);

/**
 * A valid record, dated between a minute and 40 hours ago (inside ReadApiLogs' default window). Its
 * AccountId is a placeholder: each run puts the records in an account of its own.
 */
const goodLog: fc.Arbitrary<Log> = fc.record({
    AccountId: fc.constant('000000000000'),
    CallDuration: fc.nat({ max: 10 ** 12 }),
    QueryAccessKey: token(/^[A-Z0-9]{20}$/),
    QueryApiName: fc.constantFrom('oapi', 'api'),
    QueryApiVersion: fc.constantFrom('1.40', '1.27.0'),
    QueryCallName: token(/^[A-Za-z]{1,40}$/),
    QueryDate: fc.integer({ min: 60_000_000, max: 40 * HOUR_US }).map((ageUs) => formatIsoUs(Date.now() * 1000 - ageUs)),
    QueryHeaderRaw: anyText(300),
    QueryHeaderSize: fc.nat({ max: 2 ** 31 }),
    QueryIpAddress: fc.oneof(fc.ipV4(), fc.ipV6()),
    QueryPayloadRaw: anyText(300),
    QueryPayloadSize: fc.nat({ max: 2 ** 31 }),
    QueryUserAgent: anyText(60),
    RequestId: fc.uuid(),
    ResponseSize: fc.nat({ max: 2 ** 31 }),
    ResponseStatusCode: fc.integer({ min: 100, max: 599 }),
  });

type Line = { kind: 'good'; log: Log } | { kind: 'repeat'; of: number } | { kind: 'bad'; text: string };

const INTEGER_FIELDS = new Set(['CallDuration', 'QueryHeaderSize', 'QueryPayloadSize', 'ResponseSize', 'ResponseStatusCode']);

/** A line that must be rejected: a good record broken in one way, or text that is not a record. */
const badLine: fc.Arbitrary<Line> =
  fc
    .oneof(
      fc.tuple(goodLog, fc.constantFrom(...LOG_FIELDS)).map(([log, field]) => {
        const copy: Record<string, unknown> = { ...log };
        delete copy[field];
        return JSON.stringify(copy);
      }),
      fc.tuple(goodLog, fc.constantFrom(...LOG_FIELDS)).map(([log, field]) =>
        JSON.stringify({ ...log, [field]: INTEGER_FIELDS.has(field) ? String((log as unknown as Record<string, unknown>)[field]) : 42 }),
      ),
      fc.tuple(goodLog, token(/^[a-z][A-Za-z]{0,10}$/)).map(([log, key]) => JSON.stringify({ ...log, [key]: 1 })),
      goodLog.map((log) => JSON.stringify({ ...log, QueryDate: formatIsoUs(Date.now() * 1000 + 2 * HOUR_US) })),
      goodLog.map((log) => JSON.stringify({ ...log, QueryDate: formatIsoUs(Date.now() * 1000 - 40 * DAY_US) })),
      fc.tuple(goodLog, fc.nat()).map(([log, cut]) => {
        const text = JSON.stringify(log);
        return text.slice(0, 1 + (cut % (text.length - 1)));
      }),
      anyText(80).filter((s) => !/[\n\r]/.test(s) && s.trim() !== '' && !/^[ \t]*$/.test(s)),
      fc.constantFrom('null', '[]', '42', '"record"', '{}'),
    )
    .map((text) => ({ kind: 'bad' as const, text }));

const lines: fc.Arbitrary<Line[]> =
  fc.array(
    fc.oneof(
      { weight: 3, arbitrary: goodLog.map((log): Line => ({ kind: 'good', log })) },
      { weight: 1, arbitrary: fc.nat().map((of): Line => ({ kind: 'repeat', of })) },
      { weight: 2, arbitrary: badLine },
    ),
    { minLength: 1, maxLength: 30 },
  );

describe('ingest property: random mixes of good and bad lines', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ settings: { ingestToken: INGEST_TOKEN } });
  });
  after(async () => server.close());

  it('accounts for every line, and exactly the good records are readable through ReadApiLogs with every field equal', async () => {
    await fc.assert(
      fc.asyncProperty(lines, fc.boolean(), fc.boolean(), async (generated, crlf, gzip) => {
          // A fresh account per run (shrinking included): each run starts from an empty account.
          const key = await server.createKey();
          const inAccount = (log: Log): Log => ({ ...log, AccountId: key.accountId });
          const texts: string[] = [];
          const goods: Log[] = [];
          const badIndexes: number[] = [];
          for (const line of generated) {
            if (line.kind === 'bad') {
              badIndexes.push(texts.length);
              texts.push(line.text.replaceAll('"000000000000"', JSON.stringify(key.accountId)));
              continue;
            }
            if (line.kind === 'repeat' && goods.length === 0) continue;
            const log = line.kind === 'good' ? inAccount(line.log) : (goods[line.of % goods.length] as Log);
            goods.push(log);
            texts.push(JSON.stringify(log));
          }
          if (texts.length === 0) return;
          const distinct = new Map<string, Log>();
          for (const log of goods) if (!distinct.has(log.RequestId)) distinct.set(log.RequestId, log);

          const body = texts.join(crlf ? '\r\n' : '\n') + '\n';
          const answer = await postIngest(server.url, gzip ? gzipSync(body) : body, gzip ? { contentEncoding: 'gzip' } : {});
          assert.equal(answer.status, 200, answer.text);
          const report = answer.body as { Accepted: number; Duplicates: number; Rejected: { Index: number; Error: string }[] };
          assert.equal(report.Accepted + report.Duplicates + report.Rejected.length, texts.length);
          assert.equal(report.Accepted, distinct.size);
          assert.equal(report.Duplicates, goods.length - distinct.size);
          assert.deepEqual(report.Rejected.map((r) => r.Index), badIndexes);

          const read = await callSigned(server.url, key, { ResultsPerPage: 1000 });
          assert.equal(read.status, 200, read.text);
          const byId = (a: Log, b: Log) => (a.RequestId < b.RequestId ? -1 : a.RequestId > b.RequestId ? 1 : 0);
          assert.deepEqual([...(read.body.Logs as Log[])].sort(byId), [...distinct.values()].sort(byId));
        }),
      { numRuns: 60 },
    );
  });
});
