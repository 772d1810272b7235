import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseIsoDate, US_PER_DAY, US_PER_SECOND } from '../../src/domain/time.js';
import { createLogModel, DEFAULT_START_US, generateLogBatches, writeLogsNdjson } from '../../bench/lib/generate-logs.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('generate-logs (the data of the store benchmarks)', () => {
  it('gives the same records for the same seed and different ones for another seed', () => {
    const a = [...generateLogBatches({ records: 2_000, batchSize: 700 })].flat();
    const b = [...generateLogBatches({ records: 2_000, batchSize: 500 })].flat();
    const c = [...generateLogBatches({ records: 2_000, seed: 2 })].flat();
    assert.equal(a.length, 2_000);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  it('yields batches of the requested size, the last one shorter', () => {
    const sizes = [...generateLogBatches({ records: 2_500, batchSize: 1_000 })].map((batch) => batch.length);
    assert.deepEqual(sizes, [1_000, 1_000, 500]);
  });

  it('shapes records like OUTSCALE traffic: UUID v4 request ids, header and payload sizes, skewed accounts', () => {
    const records = [...generateLogBatches({ records: 20_000 })].flat();
    const model = createLogModel();
    const big = model.accounts[0]?.AccountId;
    assert.equal(new Set(records.map((r) => r.RequestId)).size, records.length);
    let bigCount = 0;
    for (const r of records) {
      assert.match(r.RequestId, UUID_V4);
      assert.match(r.AccountId, /^\d{12}$/);
      assert.equal(r.QueryApiName, 'oapi');
      assert.ok(r.QueryHeaderRaw.length >= 350 && r.QueryHeaderRaw.length <= 720, `header of ${r.QueryHeaderRaw.length}`);
      assert.ok(r.QueryHeaderRaw.includes('\\nAuthorization: *****\\n'));
      assert.ok(!r.QueryHeaderRaw.includes('\n'), 'header lines are joined by backslash and n, not a newline');
      assert.ok(r.QueryPayloadSize >= 2 && r.QueryPayloadSize <= 300);
      assert.equal(Buffer.byteLength(r.QueryPayloadRaw), r.QueryPayloadSize);
      JSON.parse(r.QueryPayloadRaw);
      assert.ok(![401, 404].includes(r.ResponseStatusCode), '401 and 404 are never logged');
      if (r.AccountId === big) bigCount++;
    }
    assert.ok(Math.abs(bigCount / records.length - 0.4) < 0.02, `big account share ${bigCount / records.length}`);
    const reads = records.filter((r) => r.QueryCallName.startsWith('Read')).length;
    assert.ok(reads / records.length > 0.8);
    assert.ok(records.filter((r) => r.ResponseStatusCode === 200).length / records.length > 0.9);
  });

  it('spreads dates over the span in increasing order, give or take a few seconds', () => {
    const records = [...generateLogBatches({ records: 10_000, spanDays: 32 })].flat();
    let previous = -Infinity;
    for (const r of records) {
      assert.ok(r.QueryDateUs >= DEFAULT_START_US && r.QueryDateUs < DEFAULT_START_US + 32 * US_PER_DAY + 2 * US_PER_SECOND);
      assert.ok(r.QueryDateUs > previous - 4 * US_PER_SECOND);
      previous = Math.max(previous, r.QueryDateUs);
    }
    assert.ok((records.at(-1)?.QueryDateUs ?? 0) > DEFAULT_START_US + 31 * US_PER_DAY);
  });

  it('writes NDJSON of wire logs whose QueryDate parses back to the same microsecond', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'oms-generate-logs-test-'));
    try {
      const file = path.join(dir, 'logs.ndjson');
      const options = { records: 300, seed: 5 };
      assert.equal(await writeLogsNdjson(file, options), 300);
      const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
      const records = [...generateLogBatches(options)].flat();
      assert.equal(lines.length, records.length);
      lines.forEach((line, i) => {
        const wire = JSON.parse(line) as Record<string, unknown>;
        const { QueryDateUs, ...rest } = records[i] as (typeof records)[number];
        assert.match(String(wire.QueryDate), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
        assert.equal(parseIsoDate(String(wire.QueryDate))?.us, QueryDateUs);
        assert.deepEqual({ ...wire, QueryDate: undefined }, { ...rest, QueryDate: undefined });
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
