/**
 * The LogStore contract, written once and run by every implementation (SQLite now, ClickHouse later):
 * each implementation's test file calls describeLogStore with a way to open a fresh, empty store.
 * An implementation that differs from SQLite compensates in its own code; this suite does not bend.
 *
 * The expected results come from an oracle: an in-memory list of the records the store should hold,
 * in arrival order, filtered and sorted by plain JavaScript.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { recordTextBytes, toWireLog, type LogRecord, type StoredLogRecord } from '../../src/domain/log.js';
import type { LogCursor, LogPage, LogQuery, LogStore } from '../../src/store/log-store.js';

export interface OpenedStore {
  store: LogStore;
  cleanup(): Promise<void>;
}

const ACCOUNT_A = '111111111111';
const ACCOUNT_B = '222222222222';
const T0 = Date.UTC(2025, 0, 15, 10) * 1000;
const ALL_TIME = { fromUs: 0, toUs: Number.MAX_SAFE_INTEGER };

let requestCounter = 0;

/** A complete record; unique RequestId unless given. */
export function makeRecord(overrides: Partial<LogRecord> = {}): LogRecord {
  requestCounter++;
  return {
    AccountId: ACCOUNT_A,
    CallDuration: 1_250,
    QueryAccessKey: 'AKAAAAAAAAAAAAAAAAAA',
    QueryApiName: 'oapi',
    QueryApiVersion: '1.40',
    QueryCallName: 'ReadVms',
    QueryDateUs: T0,
    QueryHeaderRaw: 'Host: api.eu-west-2.outscale.com\\nAuthorization: *****',
    QueryHeaderSize: 287,
    QueryIpAddress: '192.0.2.10',
    QueryPayloadRaw: '{}',
    QueryPayloadSize: 2,
    QueryUserAgent: 'osc-cli/1.11.0',
    RequestId: `00000000-0000-4000-8000-${requestCounter.toString(16).padStart(12, '0')}`,
    ResponseSize: 1_887,
    ResponseStatusCode: 200,
    ...overrides,
  };
}

function withoutSeq(record: StoredLogRecord): LogRecord {
  const { ArrivalSeq: _seq, ...rest } = record;
  return rest;
}

function identityOf(record: LogRecord): string {
  return `${record.AccountId.length}:${record.AccountId}:${record.RequestId}`;
}

type Filters = Omit<LogQuery, 'accountId' | 'fromUs' | 'toUs' | 'maxSeq' | 'after' | 'limit' | 'maxBytes'>;

const FILTER_FIELDS: readonly [keyof Filters, keyof LogRecord][] = [
  ['callNames', 'QueryCallName'],
  ['accessKeys', 'QueryAccessKey'],
  ['apiNames', 'QueryApiName'],
  ['ipAddresses', 'QueryIpAddress'],
  ['userAgents', 'QueryUserAgent'],
  ['requestIds', 'RequestId'],
  ['statusCodes', 'ResponseStatusCode'],
];

/** What the store should hold: records in arrival order, each identity once. */
class Oracle {
  readonly stored: LogRecord[] = [];
  readonly #identities = new Set<string>();

  /** The duplicateIndexes the store must report for this batch. */
  append(records: readonly LogRecord[]): number[] {
    const duplicates: number[] = [];
    records.forEach((record, index) => {
      const identity = identityOf(record);
      if (this.#identities.has(identity)) {
        duplicates.push(index);
        return;
      }
      this.#identities.add(identity);
      this.stored.push(record);
    });
    return duplicates;
  }

  /** Records matching `query` among the first `upTo` stored, in (QueryDateUs, arrival) order. */
  select(query: Omit<LogQuery, 'limit' | 'after' | 'maxSeq'>, upTo = this.stored.length): LogRecord[] {
    const matches = this.stored.slice(0, upTo).filter((record) => matchesQuery(record, query));
    // Array.prototype.sort is stable: ties stay in arrival order.
    return matches.sort((a, b) => a.QueryDateUs - b.QueryDateUs);
  }
}

function matchesQuery(record: LogRecord, query: Omit<LogQuery, 'limit' | 'after' | 'maxSeq'>): boolean {
  if (record.AccountId !== query.accountId) return false;
  if (record.QueryDateUs < query.fromUs || record.QueryDateUs >= query.toUs) return false;
  for (const [key, field] of FILTER_FIELDS) {
    const values = query[key] as readonly (string | number)[] | undefined;
    if (values !== undefined && values.length > 0 && !values.includes(record[field])) return false;
  }
  return true;
}

async function appendChecked(store: LogStore, oracle: Oracle, records: readonly LogRecord[]): Promise<void> {
  const expected = oracle.append(records);
  const result = await store.append(records);
  assert.deepEqual(result.duplicateIndexes, expected);
  assert.equal(result.inserted, records.length - expected.length);
}

/**
 * readWirePage reads the same page as readPage, each log the wire form of its record: the same JSON
 * value as JSON.stringify(toWireLog(record)), with its 16 fields in Log order.
 */
async function assertWirePageMatches(store: LogStore, query: LogQuery, page: LogPage): Promise<void> {
  const wire = await store.readWirePage(query);
  assert.equal(wire.hasMore, page.hasMore);
  assert.equal(wire.count, page.records.length);
  const logs = JSON.parse(`[${wire.logsJson.toString('utf8')}]`) as object[];
  assert.deepEqual(logs, page.records.map((record) => toWireLog(record)));
  for (const log of logs) {
    assert.deepEqual(Object.keys(log), Object.keys(toWireLog(page.records[0] as StoredLogRecord)));
  }
  const last = page.records[page.records.length - 1];
  assert.deepEqual(wire.last, last === undefined ? undefined : { dateUs: last.QueryDateUs, seq: last.ArrivalSeq });
}

/** Reads every page of `query` with page size `limit`, checking the cursor contract on the way. */
async function readAll(store: LogStore, query: Omit<LogQuery, 'limit' | 'after'>, limit: number): Promise<StoredLogRecord[]> {
  const all: StoredLogRecord[] = [];
  let after: LogCursor | undefined;
  for (let pages = 0; pages < 10_000; pages++) {
    const page: LogPage = await store.readPage({ ...query, limit, after });
    await assertWirePageMatches(store, { ...query, limit, after }, page);
    assert.ok(page.records.length <= limit);
    all.push(...page.records);
    if (!page.hasMore) return all;
    assert.ok(page.records.length > 0, 'a page announcing more records is not empty');
    const last = page.records[page.records.length - 1] as StoredLogRecord;
    after = { dateUs: last.QueryDateUs, seq: last.ArrivalSeq };
  }
  throw new Error('paging did not end');
}

function assertOrdered(records: readonly StoredLogRecord[]): void {
  for (let i = 1; i < records.length; i++) {
    const a = records[i - 1] as StoredLogRecord;
    const b = records[i] as StoredLogRecord;
    assert.ok(
      a.QueryDateUs < b.QueryDateUs || (a.QueryDateUs === b.QueryDateUs && a.ArrivalSeq < b.ArrivalSeq),
      `records ${i - 1} and ${i} out of (QueryDateUs, ArrivalSeq) order`,
    );
  }
}

interface PagingScenario {
  initial: LogRecord[];
  later: LogRecord[][];
  pageSizes: number[];
  fromUs: number;
  lengthUs: number;
  filters: Filters;
}

// Well-formed Unicode only: a lone surrogate has no UTF-8 form, so no store can keep it (ingest rejects it).
const HOSTILE_STRINGS = [
  "'",
  '"',
  '%',
  '_',
  '\u0000',
  'a\u0000b',
  "' OR 1=1 --",
  "'; DROP TABLE logs; --",
  '\\',
  '\\n',
  '*',
  '?',
  ':name',
  '@name',
  '$1',
  '[]',
  '{"$gt":""}',
  'é',
  'e\u0301',
  '😀',
  '\u202Eevil',
  ' ',
  'x'.repeat(10_000),
];

export function describeLogStore(name: string, openStore: () => Promise<OpenedStore>): void {
  /** Runs `body` against a fresh store and always cleans up. */
  async function withStore(body: (store: LogStore) => Promise<void>): Promise<void> {
    const opened = await openStore();
    try {
      await body(opened.store);
    } finally {
      await opened.cleanup();
    }
  }

  describe(`${name}: append`, () => {
    it('stores a record once when it is appended twice, and reports the second as a duplicate', async () => {
      await withStore(async (store) => {
        const record = makeRecord();
        assert.deepEqual(await store.append([record]), { inserted: 1, duplicateIndexes: [] });
        assert.deepEqual(await store.append([record]), { inserted: 0, duplicateIndexes: [0] });
        assert.equal(await store.count({ accountId: ACCOUNT_A, ...ALL_TIME }), 1);
      });
    });

    it('keeps the first of several copies inside one batch and reports the others', async () => {
      await withStore(async (store) => {
        const record = makeRecord({ QueryCallName: 'First' });
        const copy = { ...record, QueryCallName: 'Second' };
        const result = await store.append([record, makeRecord(), copy, { ...record }]);
        assert.deepEqual(result, { inserted: 2, duplicateIndexes: [2, 3] });
        const page = await store.readPage({ accountId: ACCOUNT_A, ...ALL_TIME, requestIds: [record.RequestId], limit: 10 });
        assert.deepEqual(page.records.map((r) => r.QueryCallName), ['First']);
      });
    });

    it('stores the same RequestId in two accounts as two records', async () => {
      await withStore(async (store) => {
        const a = makeRecord({ AccountId: ACCOUNT_A, RequestId: 'shared-request-id' });
        const b = makeRecord({ AccountId: ACCOUNT_B, RequestId: 'shared-request-id' });
        assert.deepEqual(await store.append([a, b]), { inserted: 2, duplicateIndexes: [] });
        assert.deepEqual(await store.append([b, a]), { inserted: 0, duplicateIndexes: [0, 1] });
        assert.equal(await store.count({ accountId: ACCOUNT_A, ...ALL_TIME }), 1);
        assert.equal(await store.count({ accountId: ACCOUNT_B, ...ALL_TIME }), 1);
      });
    });

    it('reports in duplicateIndexes exactly the positions of records already stored or earlier in the batch', async () => {
      await withStore(async (store) => {
        const stored = [makeRecord(), makeRecord(), makeRecord()];
        await store.append(stored);
        const fresh = [makeRecord(), makeRecord()];
        const batch = [fresh[0], stored[1], fresh[1], fresh[0], stored[0], stored[1], makeRecord()] as LogRecord[];
        assert.deepEqual(await store.append(batch), { inserted: 3, duplicateIndexes: [1, 3, 4, 5] });
      });
    });

    it('accepts an empty batch and stores nothing', async () => {
      await withStore(async (store) => {
        assert.deepEqual(await store.append([]), { inserted: 0, duplicateIndexes: [] });
        assert.equal(await store.highWaterMark(), 0);
      });
    });

    it('starts the high-water mark at 0 and moves it to the ArrivalSeq of the last stored record', async () => {
      await withStore(async (store) => {
        assert.equal(await store.highWaterMark(), 0);
        await store.append([makeRecord(), makeRecord()]);
        const page = await store.readPage({ accountId: ACCOUNT_A, ...ALL_TIME, limit: 10 });
        const seqs = page.records.map((r) => r.ArrivalSeq);
        assert.equal(await store.highWaterMark(), Math.max(...seqs));
        await store.append([page.records[0] as LogRecord]);
        assert.equal(await store.highWaterMark(), Math.max(...seqs), 'a duplicate does not move the mark');
      });
    });
  });

  describe(`${name}: order`, () => {
    it('orders records by QueryDate, and records with the same QueryDate by arrival', async () => {
      await withStore(async (store) => {
        const oracle = new Oracle();
        await appendChecked(store, oracle, [
          makeRecord({ QueryDateUs: T0 + 5, QueryCallName: 'c1' }),
          makeRecord({ QueryDateUs: T0 + 1, QueryCallName: 'c2' }),
          makeRecord({ QueryDateUs: T0 + 5, QueryCallName: 'c3' }),
        ]);
        await appendChecked(store, oracle, [
          makeRecord({ QueryDateUs: T0 + 5, QueryCallName: 'c4' }),
          makeRecord({ QueryDateUs: T0, QueryCallName: 'c5' }),
          makeRecord({ QueryDateUs: T0 + 1, QueryCallName: 'c6' }),
        ]);
        const page = await store.readPage({ accountId: ACCOUNT_A, ...ALL_TIME, limit: 100 });
        assert.deepEqual(page.records.map((r) => r.QueryCallName), ['c5', 'c2', 'c6', 'c1', 'c3', 'c4']);
        assertOrdered(page.records);
        assert.equal(page.hasMore, false);
      });
    });

    it('gives each stored record a distinct ArrivalSeq increasing in arrival order', async () => {
      await withStore(async (store) => {
        const records = Array.from({ length: 20 }, (_, i) => makeRecord({ QueryDateUs: T0 + (i % 3), QueryCallName: `c${i}` }));
        await store.append(records.slice(0, 7));
        await store.append(records.slice(7));
        const page = await store.readPage({ accountId: ACCOUNT_A, ...ALL_TIME, limit: 100 });
        const byName = new Map(page.records.map((r) => [r.QueryCallName, r.ArrivalSeq]));
        for (let i = 1; i < records.length; i++) {
          assert.ok((byName.get(`c${i - 1}`) as number) < (byName.get(`c${i}`) as number));
        }
      });
    });
  });

  describe(`${name}: filters`, () => {
    // Three records per filter field: two values used, one value never used.
    const samples: Record<keyof Filters, [string | number, string | number, string | number]> = {
      callNames: ['ReadVms', 'CreateVolume', 'DeleteVolume'],
      accessKeys: ['AK1AAAAAAAAAAAAAAAAA', 'AK2AAAAAAAAAAAAAAAAA', 'AK3AAAAAAAAAAAAAAAAA'],
      apiNames: ['oapi', 'other', 'none'],
      ipAddresses: ['192.0.2.1', '198.51.100.7', '203.0.113.9'],
      userAgents: ['osc-cli/1.11.0', 'terraform-provider-outscale/1.0.1', 'curl/8.0'],
      requestIds: ['req-1', 'req-2', 'req-3'],
      statusCodes: [200, 503, 404],
    };

    for (const [key, field] of FILTER_FIELDS) {
      it(`${key} alone selects exactly the records with one of its values, OR within the list`, async () => {
        await withStore(async (store) => {
          const oracle = new Oracle();
          const [v1, v2, unused] = samples[key];
          const records = [v1, v2, v1, v2, v1].map((value, i) => makeRecord({ [field]: value, QueryDateUs: T0 + i }));
          await appendChecked(store, oracle, records);
          for (const values of [[v1], [v2], [v1, v2], [unused], [unused, v2], [v1, v1]]) {
            const query = { accountId: ACCOUNT_A, ...ALL_TIME, [key]: values };
            const expected = oracle.select(query);
            const page = await store.readPage({ ...query, limit: 100 });
            assert.deepEqual(page.records.map(withoutSeq), expected, `${key} = ${JSON.stringify(values)}`);
            assert.equal(await store.count(query), expected.length);
          }
        });
      });
    }

    it('combines different filters with AND', async () => {
      await withStore(async (store) => {
        const oracle = new Oracle();
        const records: LogRecord[] = [];
        let i = 0;
        for (const call of ['ReadVms', 'CreateVolume']) {
          for (const status of [200, 503]) {
            for (const ip of ['192.0.2.1', '192.0.2.2']) {
              records.push(makeRecord({ QueryCallName: call, ResponseStatusCode: status, QueryIpAddress: ip, QueryDateUs: T0 + i++ }));
            }
          }
        }
        await appendChecked(store, oracle, records);
        const queries: Filters[] = [
          { callNames: ['ReadVms'], statusCodes: [503] },
          { callNames: ['ReadVms', 'CreateVolume'], statusCodes: [503], ipAddresses: ['192.0.2.2'] },
          { statusCodes: [200], ipAddresses: ['192.0.2.1'], userAgents: ['osc-cli/1.11.0'], apiNames: ['oapi'] },
          { callNames: ['CreateVolume'], accessKeys: ['AKAAAAAAAAAAAAAAAAAA'], statusCodes: [200, 503] },
          { callNames: ['CreateVolume'], statusCodes: [404] },
          { requestIds: [(records[3] as LogRecord).RequestId, (records[6] as LogRecord).RequestId], statusCodes: [503] },
        ];
        for (const filters of queries) {
          const query = { accountId: ACCOUNT_A, ...ALL_TIME, ...filters };
          const page = await store.readPage({ ...query, limit: 100 });
          assert.deepEqual(page.records.map(withoutSeq), oracle.select(query), JSON.stringify(filters));
        }
      });
    });

    it('treats an empty list as no constraint', async () => {
      await withStore(async (store) => {
        const oracle = new Oracle();
        await appendChecked(store, oracle, [makeRecord(), makeRecord({ QueryCallName: 'CreateVolume', ResponseStatusCode: 409 })]);
        const empty: Filters = { callNames: [], accessKeys: [], apiNames: [], ipAddresses: [], userAgents: [], requestIds: [], statusCodes: [] };
        const page = await store.readPage({ accountId: ACCOUNT_A, ...ALL_TIME, ...empty, limit: 100 });
        assert.equal(page.records.length, 2);
        const one = await store.readPage({ accountId: ACCOUNT_A, ...ALL_TIME, ...empty, statusCodes: [409], limit: 100 });
        assert.deepEqual(one.records.map((r) => r.QueryCallName), ['CreateVolume']);
      });
    });
  });

  describe(`${name}: window`, () => {
    it('includes fromUs and excludes toUs, to the microsecond', async () => {
      await withStore(async (store) => {
        const oracle = new Oracle();
        const dates = [T0 - 1, T0, T0 + 1, T0 + 999_999, T0 + 1_000_000, T0 + 1_000_001];
        await appendChecked(store, oracle, dates.map((d) => makeRecord({ QueryDateUs: d })));
        const cases: [number, number, number[]][] = [
          [T0, T0 + 1_000_000, [T0, T0 + 1, T0 + 999_999]],
          [T0 + 1, T0 + 1_000_001, [T0 + 1, T0 + 999_999, T0 + 1_000_000]],
          [T0 - 1, T0, [T0 - 1]],
          [T0, T0 + 1, [T0]],
          [T0 + 2, T0 + 999_999, []],
        ];
        for (const [fromUs, toUs, expected] of cases) {
          for (const filters of [{}, { callNames: ['ReadVms'] }, { statusCodes: [200] }] as Filters[]) {
            const page = await store.readPage({ accountId: ACCOUNT_A, fromUs, toUs, ...filters, limit: 100 });
            assert.deepEqual(page.records.map((r) => r.QueryDateUs), expected, `[${fromUs}, ${toUs}) ${JSON.stringify(filters)}`);
            assert.equal(await store.count({ accountId: ACCOUNT_A, fromUs, toUs, ...filters }), expected.length);
          }
        }
      });
    });

    it('returns nothing for an empty or inverted window', async () => {
      await withStore(async (store) => {
        await store.append([makeRecord({ QueryDateUs: T0 })]);
        for (const [fromUs, toUs] of [[T0, T0], [T0 + 1, T0], [T0 + 5, T0 - 5]] as const) {
          const page = await store.readPage({ accountId: ACCOUNT_A, fromUs, toUs, limit: 10 });
          assert.deepEqual(page, { records: [], hasMore: false });
          assert.equal(await store.count({ accountId: ACCOUNT_A, fromUs, toUs }), 0);
        }
      });
    });

    it('spans windows of many days and dates far apart', async () => {
      await withStore(async (store) => {
        const oracle = new Oracle();
        const day = 86_400_000_000;
        const dates = [0, T0 - 40 * day, T0 - 3 * day + 7, T0, T0 + 2 * day, Number.MAX_SAFE_INTEGER - 1];
        await appendChecked(store, oracle, dates.map((d, i) => makeRecord({ QueryDateUs: d, QueryCallName: i % 2 === 0 ? 'A' : 'B' })));
        for (const filters of [{}, { callNames: ['A', 'B'] }, { callNames: ['B'] }] as Filters[]) {
          for (const [fromUs, toUs] of [[0, Number.MAX_SAFE_INTEGER], [T0 - 41 * day, T0 + 1], [T0 - 3 * day + 7, T0 + 2 * day]] as const) {
            const query = { accountId: ACCOUNT_A, fromUs, toUs, ...filters };
            assert.deepEqual((await readAll(store, query, 2)).map(withoutSeq), oracle.select(query));
          }
        }
      });
    });
  });

  describe(`${name}: snapshot and paging`, () => {
    it('hides records stored after maxSeq', async () => {
      await withStore(async (store) => {
        await store.append([makeRecord({ QueryDateUs: T0 + 10 }), makeRecord({ QueryDateUs: T0 + 20 })]);
        const mark = await store.highWaterMark();
        await store.append([makeRecord({ QueryDateUs: T0 }), makeRecord({ QueryDateUs: T0 + 15 }), makeRecord({ QueryDateUs: T0 + 30 })]);
        for (const filters of [{}, { callNames: ['ReadVms'] }, { statusCodes: [200] }] as Filters[]) {
          const page = await store.readPage({ accountId: ACCOUNT_A, ...ALL_TIME, ...filters, maxSeq: mark, limit: 10 });
          assert.deepEqual(page.records.map((r) => r.QueryDateUs), [T0 + 10, T0 + 20]);
          assert.equal(await store.count({ accountId: ACCOUNT_A, ...ALL_TIME, ...filters, maxSeq: mark }), 2);
        }
        const everything = await store.readPage({ accountId: ACCOUNT_A, ...ALL_TIME, limit: 10 });
        assert.equal(everything.records.length, 5);
      });
    });

    it('continues after a cursor inside a run of equal QueryDates with the next ArrivalSeq', async () => {
      await withStore(async (store) => {
        const records = Array.from({ length: 7 }, (_, i) => makeRecord({ QueryDateUs: T0, QueryCallName: `c${i}` }));
        await store.append(records);
        for (const filters of [{}, { callNames: records.map((r) => r.QueryCallName) }, { statusCodes: [200] }] as Filters[]) {
          const seen: string[] = [];
          let after: LogCursor | undefined;
          for (;;) {
            const page = await store.readPage({ accountId: ACCOUNT_A, ...ALL_TIME, ...filters, limit: 3, after });
            seen.push(...page.records.map((r) => r.QueryCallName));
            const last = page.records.at(-1);
            if (!page.hasMore || last === undefined) break;
            after = { dateUs: last.QueryDateUs, seq: last.ArrivalSeq };
          }
          assert.deepEqual(seen, ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6']);
        }
      });
    });

    // Small domains so that duplicates, equal dates and matches are frequent.
    const recordArb = (accounts: readonly string[]) =>
      fc
        .record({
          AccountId: fc.constantFrom(...accounts),
          RequestId: fc.constantFrom('r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'r16', 'r17', 'r18', 'r19', 'r20'),
          QueryDateUs: fc.integer({ min: T0, max: T0 + 12 }),
          QueryCallName: fc.constantFrom('ReadVms', 'ReadVolumes', 'CreateVolume'),
          QueryAccessKey: fc.constantFrom('AK1', 'AK2'),
          QueryApiName: fc.constantFrom('oapi', 'oapi', 'x'),
          QueryIpAddress: fc.constantFrom('192.0.2.1', '192.0.2.2', '192.0.2.3'),
          QueryUserAgent: fc.constantFrom('osc-cli', 'terraform'),
          ResponseStatusCode: fc.constantFrom(200, 200, 400, 503),
          CallDuration: fc.nat({ max: 1_000_000 }),
        })
        .map((fields) => makeRecord(fields));

    const filtersArb = fc.record(
      {
        callNames: fc.subarray(['ReadVms', 'ReadVolumes', 'CreateVolume', 'Unused']),
        accessKeys: fc.subarray(['AK1', 'AK2', 'AK9']),
        apiNames: fc.subarray(['oapi', 'x']),
        ipAddresses: fc.subarray(['192.0.2.1', '192.0.2.2', '192.0.2.3']),
        userAgents: fc.subarray(['osc-cli', 'terraform']),
        requestIds: fc.subarray(['r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9', 'r10', 'r21'], { maxLength: 6 }),
        statusCodes: fc.subarray([200, 400, 503, 500]),
      },
      { requiredKeys: [] },
    );

    const scenarioArb = (accounts: readonly string[], withFilters: boolean): fc.Arbitrary<PagingScenario> =>
      fc.record({
        initial: fc.array(recordArb(accounts), { minLength: 1, maxLength: 60 }),
        // Appended between pages: dates before and after the cursor, equal dates, copies of stored records.
        later: fc.array(fc.array(recordArb(accounts), { maxLength: 8 }), { maxLength: 12 }),
        pageSizes: fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 12 }),
        fromUs: fc.integer({ min: T0 - 1, max: T0 + 6 }),
        lengthUs: fc.integer({ min: 1, max: 15 }),
        filters: withFilters ? filtersArb : fc.constant({} as Filters),
      });

    /**
     * The paging property: with maxSeq fixed at the high-water mark taken before the first page, the
     * pages read one after the other, whatever their sizes and whatever is appended in between, are
     * exactly the records stored up to the mark that match, in order: none twice, none missing.
     */
    async function checkPaging(store: LogStore, runId: number, scenario: PagingScenario): Promise<void> {
      // Accounts unique to this run keep runs independent inside one store.
      const prefix = `run${runId}-`;
      const rename = (r: LogRecord): LogRecord => ({ ...r, AccountId: prefix + r.AccountId });
      const oracle = new Oracle();
      await appendChecked(store, oracle, scenario.initial.map(rename));
      const maxSeq = await store.highWaterMark();
      const storedAtMark = oracle.stored.length;
      const query = {
        accountId: `${prefix}A`,
        fromUs: scenario.fromUs,
        toUs: scenario.fromUs + scenario.lengthUs,
        ...scenario.filters,
      };
      const expected = oracle.select(query, storedAtMark);
      const got: StoredLogRecord[] = [];
      let after: LogCursor | undefined;
      for (let i = 0; ; i++) {
        const limit = scenario.pageSizes[i % scenario.pageSizes.length] as number;
        const page = await store.readPage({ ...query, maxSeq, limit, after });
        got.push(...page.records);
        assert.equal(page.hasMore, got.length < expected.length, 'hasMore says whether records remain');
        if (!page.hasMore) break;
        const last = page.records.at(-1) as StoredLogRecord;
        after = { dateUs: last.QueryDateUs, seq: last.ArrivalSeq };
        const batch = scenario.later[i];
        if (batch !== undefined) await appendChecked(store, oracle, batch.map(rename));
      }
      assert.deepEqual(got.map(withoutSeq), expected);
      assertOrdered(got);
      for (const record of got) assert.ok(record.ArrivalSeq <= maxSeq);
      assert.equal(await store.count({ ...query, maxSeq }), expected.length);
    }

    it('pages through a snapshot without repeating or skipping while records arrive (random page sizes)', async () => {
      const opened = await openStore();
      try {
        let runId = 0;
        await fc.assert(
          fc.asyncProperty(scenarioArb(['A', 'B'], false), async (scenario) => checkPaging(opened.store, runId++, scenario)),
          { seed: 20_250_115, numRuns: 40 },
        );
      } finally {
        await opened.cleanup();
      }
    });

    it('pages through a snapshot exactly across random combinations of filters', async () => {
      const opened = await openStore();
      try {
        let runId = 0;
        await fc.assert(
          fc.asyncProperty(scenarioArb(['A', 'B'], true), async (scenario) => checkPaging(opened.store, runId++, scenario)),
          { seed: 20_250_116, numRuns: 60 },
        );
      } finally {
        await opened.cleanup();
      }
    });
  });

  describe(`${name}: purge`, () => {
    it('deletes exactly the records dated before the cutoff and returns how many', async () => {
      await withStore(async (store) => {
        const oracle = new Oracle();
        const records: LogRecord[] = [];
        for (const account of [ACCOUNT_A, ACCOUNT_B]) {
          for (let i = 0; i < 30; i++) records.push(makeRecord({ AccountId: account, QueryDateUs: T0 + (i % 10), QueryCallName: `c${i % 3}` }));
        }
        await appendChecked(store, oracle, records);
        assert.equal(await store.purgeBefore(T0 + 4), 24);
        for (const account of [ACCOUNT_A, ACCOUNT_B]) {
          const left = await readAll(store, { accountId: account, ...ALL_TIME }, 7);
          assert.deepEqual(
            left.map(withoutSeq),
            oracle.select({ accountId: account, ...ALL_TIME }).filter((r) => r.QueryDateUs >= T0 + 4),
          );
          const filtered = await store.readPage({ accountId: account, ...ALL_TIME, callNames: ['c1'], limit: 100 });
          assert.ok(filtered.records.every((r) => r.QueryDateUs >= T0 + 4));
        }
        assert.equal(await store.purgeBefore(T0 + 4), 0);
        assert.equal(await store.purgeBefore(T0), 0);
      });
    });

    it('keeps ArrivalSeq increasing after a purge, even when the newest records were purged', async () => {
      await withStore(async (store) => {
        await store.append([makeRecord({ QueryDateUs: T0 + 100 })]);
        await store.append([makeRecord({ QueryDateUs: T0 - 100 }), makeRecord({ QueryDateUs: T0 - 50 })]);
        const before = await store.highWaterMark();
        assert.equal(await store.purgeBefore(T0), 2);
        assert.equal(await store.highWaterMark(), before, 'purging does not lower the mark');
        await store.append([makeRecord({ QueryDateUs: T0 - 10 })]);
        const page = await store.readPage({ accountId: ACCOUNT_A, ...ALL_TIME, limit: 10 });
        const newest = page.records.find((r) => r.QueryDateUs === T0 - 10) as StoredLogRecord;
        assert.ok(newest.ArrivalSeq > before);
      });
    });

    it('forgets purged records: appending one again stores it', async () => {
      await withStore(async (store) => {
        const old = makeRecord({ QueryDateUs: T0 - 1 });
        await store.append([old, makeRecord({ QueryDateUs: T0 })]);
        assert.equal(await store.purgeBefore(T0), 1);
        assert.deepEqual(await store.append([old]), { inserted: 1, duplicateIndexes: [] });
        assert.deepEqual(await store.append([old]), { inserted: 0, duplicateIndexes: [0] });
      });
    });
  });

  describe(`${name}: count`, () => {
    it('counts what paging returns for the same query, ignoring cursor and limit', async () => {
      await withStore(async (store) => {
        const oracle = new Oracle();
        const records = Array.from({ length: 50 }, (_, i) =>
          makeRecord({ QueryDateUs: T0 + (i % 13), QueryCallName: i % 2 === 0 ? 'ReadVms' : 'CreateVolume', ResponseStatusCode: i % 5 === 0 ? 500 : 200 }),
        );
        await appendChecked(store, oracle, records);
        for (const filters of [{}, { callNames: ['ReadVms'] }, { statusCodes: [500] }, { callNames: ['CreateVolume'], statusCodes: [500, 200] }] as Filters[]) {
          const query = { accountId: ACCOUNT_A, fromUs: T0 + 2, toUs: T0 + 11, ...filters };
          const expected = oracle.select(query).length;
          assert.equal(await store.count(query), expected);
          assert.equal((await readAll(store, query, 4)).length, expected);
        }
        assert.equal(await store.count({ accountId: 'nobody', ...ALL_TIME }), 0);
      });
    });
  });

  describe(`${name}: account isolation`, () => {
    it('never returns records of another account, whatever the filters', async () => {
      await withStore(async (store) => {
        const template = makeRecord({ AccountId: ACCOUNT_B, RequestId: 'same-id', QueryDateUs: T0 });
        // Account B holds records matching every filter value used below; account A holds one other record.
        await store.append([template, makeRecord({ AccountId: ACCOUNT_B, QueryDateUs: T0 + 1 })]);
        await store.append([makeRecord({ AccountId: ACCOUNT_A, QueryCallName: 'OnlyInA', QueryDateUs: T0 + 2 })]);
        const everyFilter: Filters[] = [
          {},
          { callNames: [template.QueryCallName] },
          { accessKeys: [template.QueryAccessKey] },
          { apiNames: [template.QueryApiName] },
          { ipAddresses: [template.QueryIpAddress] },
          { userAgents: [template.QueryUserAgent] },
          { requestIds: ['same-id'] },
          { statusCodes: [template.ResponseStatusCode] },
          { callNames: [template.QueryCallName], statusCodes: [200], ipAddresses: [template.QueryIpAddress], requestIds: ['same-id'] },
        ];
        for (const filters of everyFilter) {
          const page = await store.readPage({ accountId: ACCOUNT_A, ...ALL_TIME, ...filters, limit: 100 });
          assert.ok(page.records.every((r) => r.AccountId === ACCOUNT_A), JSON.stringify(filters));
          const noAccount = await store.readPage({ accountId: '', ...ALL_TIME, ...filters, limit: 100 });
          assert.deepEqual(noAccount.records, []);
        }
        const b = await store.readPage({ accountId: ACCOUNT_B, ...ALL_TIME, requestIds: ['same-id'], limit: 10 });
        assert.equal(b.records.length, 1);
      });
    });
  });

  describe(`${name}: hostile values`, () => {
    it('stores hostile strings in every text field and returns them exactly', async () => {
      await withStore(async (store) => {
        const records = HOSTILE_STRINGS.map((s, i) =>
          makeRecord({
            AccountId: `acct${s}`,
            QueryAccessKey: s,
            QueryApiName: s,
            QueryApiVersion: s,
            QueryCallName: s,
            QueryHeaderRaw: s,
            QueryIpAddress: s,
            QueryPayloadRaw: s,
            QueryUserAgent: s,
            RequestId: s,
            QueryDateUs: T0 + i,
          }),
        );
        assert.deepEqual(await store.append(records), { inserted: records.length, duplicateIndexes: [] });
        assert.equal((await store.append(records)).duplicateIndexes.length, records.length);
        for (const record of records) {
          const page = await store.readPage({ accountId: record.AccountId, ...ALL_TIME, limit: 10 });
          assert.deepEqual(page.records.map(withoutSeq), [record]);
          await assertWirePageMatches(store, { accountId: record.AccountId, ...ALL_TIME, limit: 10 }, page);
        }
      });
    });

    it('matches hostile filter values literally, never as patterns or SQL', async () => {
      await withStore(async (store) => {
        const records = HOSTILE_STRINGS.map((s, i) =>
          makeRecord({ QueryCallName: s, QueryIpAddress: s, QueryUserAgent: s, QueryAccessKey: s, QueryApiName: s, RequestId: `id${s}`, QueryDateUs: T0 + i }),
        );
        await store.append([...records, makeRecord({ QueryCallName: 'ReadVms', QueryDateUs: T0 + 1_000 })]);
        for (const s of HOSTILE_STRINGS) {
          for (const filters of [
            { callNames: [s] },
            { ipAddresses: [s] },
            { userAgents: [s] },
            { accessKeys: [s] },
            { apiNames: [s] },
            { requestIds: [`id${s}`] },
            { callNames: [s, 'nothing'], ipAddresses: [s] },
          ] as Filters[]) {
            const page = await store.readPage({ accountId: ACCOUNT_A, ...ALL_TIME, ...filters, limit: 100 });
            assert.equal(page.records.length, 1, `${JSON.stringify(s)} in ${Object.keys(filters).join(',')}`);
            assert.equal((page.records[0] as StoredLogRecord).QueryCallName, s);
          }
        }
        const fromHostileAccount = await store.readPage({ accountId: "' OR 1=1 --", ...ALL_TIME, limit: 100 });
        assert.deepEqual(fromHostileAccount.records, []);
      });
    });
  });

  describe(`${name}: byte budget`, () => {
    /** What a page of `expected` (the records left to read, in order) must hold under `limit` and `maxBytes`. */
    function budgetedPage(expected: readonly LogRecord[], limit: number, maxBytes: number): LogRecord[] {
      const page: LogRecord[] = [];
      let bytes = 0;
      for (const record of expected.slice(0, limit)) {
        const size = recordTextBytes(record);
        if (page.length > 0 && bytes + size > maxBytes) break;
        page.push(record);
        bytes += size;
      }
      return page;
    }

    it('ends a page before the record that would pass maxBytes, and returns a record larger than the budget alone', async () => {
      await withStore(async (store) => {
        const payloads = ['a'.repeat(100), 'é'.repeat(50), 'b'.repeat(100), 'c'.repeat(5_000), 'd', '😀'.repeat(10)];
        const records = payloads.map((QueryPayloadRaw, i) => makeRecord({ QueryDateUs: T0 + i, QueryPayloadRaw }));
        await store.append(records);
        const [r0, r1, r2, r3, r4, r5] = records as [LogRecord, LogRecord, LogRecord, LogRecord, LogRecord, LogRecord];
        // The first two fit exactly: a budget counts bytes, 'é' being two of them.
        const maxBytes = recordTextBytes(r0) + recordTextBytes(r1);
        const query = { accountId: ACCOUNT_A, ...ALL_TIME, limit: 10, maxBytes };
        const pages: LogRecord[][] = [];
        let after: LogCursor | undefined;
        for (;;) {
          const page = await store.readPage({ ...query, after });
          await assertWirePageMatches(store, { ...query, after }, page);
          pages.push(page.records.map(withoutSeq));
          const last = page.records.at(-1);
          if (!page.hasMore || last === undefined) break;
          after = { dateUs: last.QueryDateUs, seq: last.ArrivalSeq };
        }
        assert.deepEqual(pages, [[r0, r1], [r2], [r3], [r4, r5]]);
        // A budget no page reaches changes nothing.
        const whole = await store.readPage({ ...query, maxBytes: 1e9 });
        assert.deepEqual(whole.records.map(withoutSeq), records);
        assert.equal(whole.hasMore, false);
      });
    });

    it('pages through records of random sizes and filters exactly as the budget cuts them', async () => {
      const opened = await openStore();
      try {
        let runId = 0;
        const textArb = fc.string({ unit: 'binary', maxLength: 300 }).filter((s) => s.isWellFormed());
        const scenarioArb = fc.record({
          records: fc.array(
            fc.record({
              QueryDateUs: fc.integer({ min: T0, max: T0 + 5 }),
              QueryCallName: fc.constantFrom('ReadVms', 'CreateVolume'),
              ResponseStatusCode: fc.constantFrom(200, 409),
              QueryPayloadRaw: textArb,
              QueryHeaderRaw: textArb,
            }),
            { minLength: 1, maxLength: 30 },
          ),
          limit: fc.integer({ min: 1, max: 8 }),
          // From less than any record to more than any page: cuts everywhere, and none.
          maxBytes: fc.oneof(fc.integer({ min: 1, max: 3_000 }), fc.constant(1e9)),
          filters: fc.constantFrom<Filters>({}, { callNames: ['ReadVms'] }, { statusCodes: [409, 200] }, { userAgents: ['osc-cli/1.11.0'] }),
        });
        await fc.assert(
          fc.asyncProperty(scenarioArb, async (scenario) => {
            const accountId = `budget${runId++}`;
            const records = scenario.records.map((fields) => makeRecord({ ...fields, AccountId: accountId }));
            await opened.store.append(records);
            const oracle = new Oracle();
            oracle.append(records);
            const query = { accountId, ...ALL_TIME, ...scenario.filters, limit: scenario.limit, maxBytes: scenario.maxBytes };
            let remaining = oracle.select(query);
            let after: LogCursor | undefined;
            for (;;) {
              const page = await opened.store.readPage({ ...query, after });
              await assertWirePageMatches(opened.store, { ...query, after }, page);
              const expected = budgetedPage(remaining, scenario.limit, scenario.maxBytes);
              assert.deepEqual(page.records.map(withoutSeq), expected);
              remaining = remaining.slice(expected.length);
              assert.equal(page.hasMore, remaining.length > 0);
              const last = page.records.at(-1);
              if (!page.hasMore || last === undefined) break;
              after = { dateUs: last.QueryDateUs, seq: last.ArrivalSeq };
            }
            assert.equal(remaining.length, 0);
          }),
          { seed: 20_261_202, numRuns: 40 },
        );
      } finally {
        await opened.cleanup();
      }
    });
  });

  describe(`${name}: round trip`, () => {
    it('returns all 16 fields exactly, including 0, 2^53 - 1 and empty strings', async () => {
      await withStore(async (store) => {
        const max = Number.MAX_SAFE_INTEGER;
        const records: LogRecord[] = [
          makeRecord({ CallDuration: 0, QueryHeaderSize: 0, QueryPayloadSize: 0, ResponseSize: 0, ResponseStatusCode: 0, QueryDateUs: T0 }),
          makeRecord({ CallDuration: max, QueryHeaderSize: max, QueryPayloadSize: max, ResponseSize: max, ResponseStatusCode: 599, QueryDateUs: T0 + 1 }),
          makeRecord({
            QueryAccessKey: '',
            QueryApiName: '',
            QueryApiVersion: '',
            QueryCallName: '',
            QueryHeaderRaw: '',
            QueryIpAddress: '',
            QueryPayloadRaw: '',
            QueryUserAgent: '',
            RequestId: '',
            QueryDateUs: T0 + 2,
          }),
          makeRecord({
            QueryHeaderRaw: 'Host: api.eu-west-2.outscale.com\\nAccept: */*\\nAuthorization: *****\\nX-Forwarded-For: 192.0.2.0',
            QueryPayloadRaw: JSON.stringify({ Filters: { VmIds: ['i-12345678'] }, Password: '*****' }),
            QueryIpAddress: '2001:db8::1',
            QueryDateUs: T0 + 3,
          }),
          makeRecord({ AccountId: '', QueryDateUs: 0 }),
          makeRecord({ AccountId: '', QueryDateUs: max - 1 }),
        ];
        await store.append(records);
        const a = await store.readPage({ accountId: ACCOUNT_A, ...ALL_TIME, limit: 10 });
        assert.deepEqual(a.records.map(withoutSeq), records.slice(0, 4));
        const empty = await store.readPage({ accountId: '', ...ALL_TIME, limit: 10 });
        assert.deepEqual(empty.records.map(withoutSeq), records.slice(4));
        for (const record of a.records) {
          assert.deepEqual(Object.keys(record).sort(), [...Object.keys(records[0] as LogRecord), 'ArrivalSeq'].sort());
          assert.ok(Number.isSafeInteger(record.ArrivalSeq) && record.ArrivalSeq > 0);
        }
      });
    });
  });
}
