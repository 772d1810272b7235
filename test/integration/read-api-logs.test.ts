import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { formatIsoUs, parseIsoDate, type LogRecord } from '../../src/domain/index.js';
import { recordTextBytes, toWireLog } from '../../src/domain/index.js';
import { PAGE_TEXT_BUDGET_BYTES } from '../../src/query/read-api-logs.js';
import { callSigned, makeRecord, ManualClock, startTestServer, type TestKey, type TestServer } from '../fixtures/test-server.js';

const HOUR_US = 3_600_000_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function wire(records: LogRecord[]) {
  return records.map(toWireLog);
}

describe('ReadApiLogs over HTTP', () => {
  const clock = new ManualClock();
  let t: TestServer;
  let key: TestKey;
  let other: TestKey;
  const call = (body: unknown, options: Parameters<typeof callSigned>[3] = {}) =>
    callSigned(t.url, key, body, { nowMs: clock.us / 1000, ...options });

  before(async () => {
    t = await startTestServer({ clock });
    key = await t.createKey();
    other = await t.createKey();
  });
  after(async () => {
    await t.close();
  });

  it('returns the last 48 hours of the caller account, oldest first, every field in the OUTSCALE form', async () => {
    const now = clock.us;
    const a1 = makeRecord({ AccountId: key.accountId, QueryDateUs: now - 2 * HOUR_US, QueryCallName: 'CreateVolume' });
    const a0 = makeRecord({ AccountId: key.accountId, QueryDateUs: now - 5 * HOUR_US });
    const tooOld = makeRecord({ AccountId: key.accountId, QueryDateUs: now - 49 * HOUR_US });
    const otherAccount = makeRecord({ AccountId: other.accountId, QueryDateUs: now - HOUR_US });
    await t.seed([a1, a0, tooOld, otherAccount]);

    const answer = await call({});
    assert.equal(answer.status, 200);
    assert.match(answer.headers.get('content-type') ?? '', /^application\/json/);
    assert.match(answer.body.ResponseContext.RequestId, UUID);
    assert.equal(answer.body.Logs[0].QueryDate, formatIsoUs(a0.QueryDateUs));
    assert.match(answer.body.Logs[0].QueryDate, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.deepEqual(answer.body, { ResponseContext: answer.body.ResponseContext, Logs: wire([a0, a1]) });
  });

  it('is reachable at /api/latest/, with x-osc-target at / and /api/latest/, and with a doubled slash as osc-cli sends it', async () => {
    const viaV1 = await call({ Filters: { QueryCallNames: ['CreateVolume'] } });
    assert.equal(viaV1.status, 200);
    const expected = viaV1.body.Logs;
    assert.equal(expected.length, 1);
    for (const [path, headers] of [
      ['/api/latest/ReadApiLogs', {}],
      ['/', { 'x-osc-target': 'OutscaleService.ReadApiLogs' }],
      ['/api/latest/', { 'x-osc-target': 'OutscaleService.ReadApiLogs' }],
      ['//api/latest/ReadApiLogs', {}],
    ] as const) {
      const answer = await call({ Filters: { QueryCallNames: ['CreateVolume'] } }, { path, headers });
      assert.equal(answer.status, 200, `${path}: ${answer.text}`);
      assert.deepEqual(answer.body.Logs, expected, path);
    }
  });

  it('answers 404 InvalidAction for an unknown call name and for a call this server does not serve', async () => {
    for (const path of ['/api/v1/NoSuchCall', '/api/v1/ReadVms', '/api/v2/ReadApiLogs']) {
      const answer = await call({}, { path });
      assert.equal(answer.status, 404, path);
      assert.deepEqual(Object.keys(answer.body), ['Errors', 'ResponseContext']);
      assert.equal(answer.body.Errors[0].Code, '12000');
      assert.equal(answer.body.Errors[0].Type, 'InvalidAction');
    }
  });

  it('combines filters with AND across and OR within', async () => {
    const now = clock.us;
    const records = [
      makeRecord({ AccountId: key.accountId, QueryDateUs: now - 30 * 60_000_000, QueryCallName: 'ReadNets', ResponseStatusCode: 200 }),
      makeRecord({ AccountId: key.accountId, QueryDateUs: now - 29 * 60_000_000, QueryCallName: 'ReadNets', ResponseStatusCode: 409 }),
      makeRecord({ AccountId: key.accountId, QueryDateUs: now - 28 * 60_000_000, QueryCallName: 'DeleteNet', ResponseStatusCode: 409 }),
      makeRecord({ AccountId: key.accountId, QueryDateUs: now - 27 * 60_000_000, QueryCallName: 'DeleteNet', ResponseStatusCode: 500, QueryIpAddress: '203.0.113.9' }),
    ];
    await t.seed(records);
    const both = await call({ Filters: { QueryCallNames: ['ReadNets', 'DeleteNet'], ResponseStatusCodes: [409] } });
    assert.deepEqual(both.body.Logs, wire([records[1]!, records[2]!]));
    const ip = await call({ Filters: { QueryIpAddresses: ['203.0.113.9'] } });
    assert.deepEqual(ip.body.Logs, wire([records[3]!]));
    const none = await call({ Filters: { QueryCallNames: ['ReadNets'], QueryIpAddresses: ['203.0.113.9'] } });
    assert.deepEqual(none.body.Logs, []);
    const emptyList = await call({ Filters: { QueryCallNames: [], ResponseStatusCodes: [500] } });
    assert.deepEqual(emptyList.body.Logs, wire([records[3]!]));
  });

  it('leaves out of every log the fields that With sets to false', async () => {
    const answer = await call({ Filters: { QueryCallNames: ['DeleteNet'] }, With: { QueryHeaderRaw: false, QueryPayloadRaw: false, AccountId: true } });
    assert.equal(answer.status, 200);
    assert.equal(answer.body.Logs.length, 2);
    for (const log of answer.body.Logs) {
      assert.equal('QueryHeaderRaw' in log, false);
      assert.equal('QueryPayloadRaw' in log, false);
      assert.equal(Object.keys(log).length, 14);
    }
  });

  it('answers DryRun with only the ResponseContext', async () => {
    const answer = await call({ DryRun: true, Filters: { QueryCallNames: ['ReadNets'] } });
    assert.equal(answer.status, 200);
    assert.deepEqual(Object.keys(answer.body), ['ResponseContext']);
    assert.match(answer.body.ResponseContext.RequestId, UUID);
  });

  it('lets an EIM user key of the account see every log of the account', async () => {
    const userKey = await t.createKey({ accountId: key.accountId, userName: 'auditor' });
    const asRoot = await call({ Filters: { QueryCallNames: ['ReadNets', 'DeleteNet', 'CreateVolume'] } });
    const asUser = await callSigned(t.url, userKey, { Filters: { QueryCallNames: ['ReadNets', 'DeleteNet', 'CreateVolume'] } }, { nowMs: clock.us / 1000 });
    assert.equal(asUser.status, 200);
    assert.deepEqual(asUser.body.Logs, asRoot.body.Logs);
  });

  it('records ReadApiLogs calls themselves, with the RequestId the caller received, and not the calls answered 401', async () => {
    const fresh = await t.createKey();
    const ok = await callSigned(t.url, fresh, { Filters: { QueryCallNames: ['ReadVms'] } }, { nowMs: clock.us / 1000, headers: { 'user-agent': 'oms-test/1.0' } });
    assert.equal(ok.status, 200);
    const bad = await callSigned(t.url, fresh, { ResultsPerPage: 0 }, { nowMs: clock.us / 1000 });
    assert.equal(bad.status, 400);
    const denied = await callSigned(t.url, { accessKeyId: fresh.accessKeyId, secretKey: 'X'.repeat(40) }, {}, { nowMs: clock.us / 1000 });
    assert.equal(denied.status, 401);
    await t.server.writer.flush();
    // The manual clock stands still: the calls above happened at exactly "now", which the default
    // window [now - 48 h, now) excludes.
    clock.advanceMs(1);

    const answer = await callSigned(t.url, fresh, { Filters: { QueryCallNames: ['ReadApiLogs'] } }, { nowMs: clock.us / 1000 });
    const logs = answer.body.Logs;
    assert.equal(logs.length, 2, JSON.stringify(logs));
    const [first, second] = logs;
    assert.equal(first.RequestId, ok.body.ResponseContext.RequestId);
    assert.equal(first.AccountId, fresh.accountId);
    assert.equal(first.QueryAccessKey, fresh.accessKeyId);
    assert.equal(first.QueryApiName, 'oapi');
    assert.equal(first.QueryApiVersion, '1.40');
    assert.equal(first.QueryCallName, 'ReadApiLogs');
    assert.equal(first.QueryIpAddress, '127.0.0.1');
    assert.equal(first.QueryUserAgent, 'oms-test/1.0');
    assert.equal(first.QueryPayloadRaw, JSON.stringify({ Filters: { QueryCallNames: ['ReadVms'] } }));
    assert.equal(first.QueryPayloadSize, Buffer.byteLength(first.QueryPayloadRaw));
    assert.equal(first.ResponseStatusCode, 200);
    assert.equal(first.ResponseSize, Buffer.byteLength(ok.text));
    assert.ok(first.CallDuration > 0);
    assert.match(first.QueryHeaderRaw, /(^|\\n)[Aa]uthorization: \*\*\*\*\*(\\n|$)/);
    assert.equal(first.QueryHeaderRaw.includes('\n'), false, 'lines are joined by backslash-n, not a newline');
    assert.equal(first.QueryHeaderRaw.includes(fresh.secretKey), false);
    assert.ok(first.QueryHeaderSize > first.QueryHeaderRaw.length / 2);
    assert.equal(second.RequestId, bad.body.ResponseContext.RequestId);
    assert.equal(second.ResponseStatusCode, 400);
  });

  it('pages oldest first with stable ties, and pages taken later do not shift while records arrive', async () => {
    const pager = await t.createKey();
    const base = clock.us - 10 * HOUR_US;
    const records: LogRecord[] = [];
    for (let i = 0; i < 250; i++) {
      // Groups of five share one timestamp: ties must keep arrival order.
      records.push(makeRecord({ AccountId: pager.accountId, QueryDateUs: base + Math.floor(i / 5) * 1_000_000 }));
    }
    await t.seed(records.slice(0, 150));
    await t.seed(records.slice(150));
    const pages: any[] = [];
    let token: string | undefined;
    do {
      const answer: any = await callSigned(t.url, pager, { ResultsPerPage: 100, ...(token ? { NextPageToken: token } : {}), Filters: { QueryCallNames: ['ReadVms'] } }, { nowMs: clock.us / 1000 });
      assert.equal(answer.status, 200, answer.text);
      pages.push(answer.body.Logs);
      token = answer.body.NextPageToken;
      // Arrivals between pages, before and after the cursor, must not appear in this paging.
      await t.seed([
        makeRecord({ AccountId: pager.accountId, QueryDateUs: base + 1 }),
        makeRecord({ AccountId: pager.accountId, QueryDateUs: base + 200 * 1_000_000 }),
      ]);
    } while (token !== undefined);
    assert.deepEqual(pages.map((p) => p.length), [100, 100, 50]);
    assert.deepEqual(pages.flat().map((l: any) => l.RequestId), records.map((r) => r.RequestId));
  });

  it('refuses a page token with other filters, from another account, or altered', async () => {
    const first = await call({ ResultsPerPage: 1, Filters: { QueryCallNames: ['ReadNets', 'DeleteNet'] } });
    const token = first.body.NextPageToken as string;
    assert.ok(token);
    const otherFilters = await call({ ResultsPerPage: 1, NextPageToken: token, Filters: { QueryCallNames: ['ReadNets'] } });
    assert.equal(otherFilters.status, 400);
    assert.equal(otherFilters.body.Errors[0].Code, '4078');
    const sameFiltersOtherOrder = await call({ ResultsPerPage: 1, NextPageToken: token, Filters: { QueryCallNames: ['DeleteNet', 'ReadNets'] } });
    assert.equal(sameFiltersOtherOrder.status, 200);
    const otherAccount = await callSigned(t.url, other, { NextPageToken: token, Filters: { QueryCallNames: ['ReadNets', 'DeleteNet'] } }, { nowMs: clock.us / 1000 });
    assert.equal(otherAccount.status, 400);
    assert.equal(otherAccount.body.Errors[0].Code, '4078');
    const altered = token.slice(0, 30) + (token[30] === 'A' ? 'B' : 'A') + token.slice(31);
    const alteredAnswer = await call({ NextPageToken: altered, Filters: { QueryCallNames: ['ReadNets', 'DeleteNet'] } });
    assert.equal(alteredAnswer.status, 400);
    assert.equal(alteredAnswer.body.Errors[0].Code, '4078');
  });

  it('expires page tokens after 24 hours', async () => {
    const first = await call({ ResultsPerPage: 1, Filters: { QueryCallNames: ['ReadNets', 'DeleteNet'] } });
    clock.advanceMs(24 * 3_600_000 + 1000);
    try {
      const later = await call({ ResultsPerPage: 1, NextPageToken: first.body.NextPageToken, Filters: { QueryCallNames: ['ReadNets', 'DeleteNet'] } });
      assert.equal(later.status, 400);
      assert.deepEqual(later.body.Errors, [{ Code: '4078', Type: 'InvalidParameterValue', Details: 'The NextPageToken has expired.' }]);
    } finally {
      clock.advanceMs(-(24 * 3_600_000 + 1000));
    }
  });
});

describe('ReadApiLogs date windows', () => {
  // The reference example: After 2017-05-10 with Before 2017-05-10 is the whole of that day.
  const clock = new ManualClock(parseIsoDate('2017-05-20T12:00:00Z')!.us);
  let t: TestServer;
  let key: TestKey;
  before(async () => {
    t = await startTestServer({ clock });
    key = await t.createKey();
  });
  after(async () => {
    await t.close();
  });

  it('reads the whole day for a date-only After and Before of the same day, After inclusive and Before exclusive', async () => {
    const at = (iso: string) => makeRecord({ AccountId: key.accountId, QueryDateUs: parseIsoDate(iso)!.us, QueryIpAddress: '192.0.2.0' });
    const inside = [at('2017-05-10T00:00:00.000000Z'), at('2017-05-10T12:34:56.789000Z'), at('2017-05-10T23:59:59.999999Z')];
    const outside = [at('2017-05-09T23:59:59.999999Z'), at('2017-05-11T00:00:00.000000Z')];
    await t.seed([...outside, ...inside]);
    const answer = await callSigned(
      t.url,
      key,
      { Filters: { QueryIpAddresses: ['192.0.2.0', '198.51.100.0'], QueryDateAfter: '2017-05-10', QueryDateBefore: '2017-05-10' } },
      { nowMs: clock.us / 1000 },
    );
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(answer.body.Logs, wire(inside));
  });

  it('reads 48 hours after a lone After and 48 hours before a lone Before', async () => {
    const at = (iso: string) => makeRecord({ AccountId: key.accountId, QueryDateUs: parseIsoDate(iso)!.us, QueryCallName: 'ReadTags' });
    const records = [at('2017-05-14T00:00:00Z'), at('2017-05-15T23:59:59Z'), at('2017-05-16T00:00:00Z')];
    await t.seed(records);
    const onlyAfter = await callSigned(t.url, key, { Filters: { QueryCallNames: ['ReadTags'], QueryDateAfter: '2017-05-14T00:00:00Z' } }, { nowMs: clock.us / 1000 });
    assert.deepEqual(onlyAfter.body.Logs, wire(records.slice(0, 2)));
    const onlyBefore = await callSigned(t.url, key, { Filters: { QueryCallNames: ['ReadTags'], QueryDateBefore: '2017-05-16T00:00:00Z' } }, { nowMs: clock.us / 1000 });
    assert.deepEqual(onlyBefore.body.Logs, wire(records.slice(0, 2)));
  });

  it('refuses After later than Before with 4045', async () => {
    const answer = await callSigned(t.url, key, { Filters: { QueryDateAfter: '2017-05-12', QueryDateBefore: '2017-05-11' } }, { nowMs: clock.us / 1000 });
    assert.equal(answer.status, 400);
    assert.equal(answer.body.Errors[0].Code, '4045');
  });

  it('shows nothing older than the 32 days kept, even when asked', async () => {
    await t.seed([makeRecord({ AccountId: key.accountId, QueryDateUs: parseIsoDate('2017-04-15T00:00:00Z')!.us, QueryCallName: 'ReadKeypairs' })]);
    const answer = await callSigned(
      t.url,
      key,
      { Filters: { QueryCallNames: ['ReadKeypairs'], QueryDateAfter: '2017-04-01', QueryDateBefore: '2017-05-20' } },
      { nowMs: clock.us / 1000 },
    );
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body.Logs, []);
  });
  it('ends a page of logs with 1 MiB raw fields at its 16 MiB budget and gives the rest after its NextPageToken', async () => {
    const owner = await t.createKey();
    const now = clock.us;
    const records = Array.from({ length: 10 }, (_, i) =>
      makeRecord({ AccountId: owner.accountId, QueryDateUs: now - HOUR_US + i, QueryPayloadRaw: 'p'.repeat(1_048_576), QueryHeaderRaw: 'h'.repeat(1_048_576) }),
    );
    await t.seed(records);
    // What fits: the first records whose text bytes stay within the budget.
    let fit = 0;
    for (let bytes = 0; fit < records.length && bytes + recordTextBytes(records[fit]!) <= PAGE_TEXT_BUDGET_BYTES; fit++) bytes += recordTextBytes(records[fit]!);
    assert.ok(fit > 0 && fit < records.length);
    for (const With of [undefined, { QueryPayloadRaw: true, RequestId: true }]) {
      const first = await callSigned(t.url, owner, { ResultsPerPage: 100, ...(With ? { With } : {}) }, { nowMs: clock.us / 1000 });
      assert.equal(first.status, 200);
      assert.equal(first.body.Logs.length, fit);
      assert.equal(typeof first.body.NextPageToken, 'string');
      const rest = await callSigned(t.url, owner, { ResultsPerPage: 100, NextPageToken: first.body.NextPageToken, ...(With ? { With } : {}) }, { nowMs: clock.us / 1000 });
      assert.equal(rest.status, 200);
      assert.equal(rest.body.NextPageToken, undefined);
      const ids = [...first.body.Logs, ...rest.body.Logs].map((log: { RequestId: string }) => log.RequestId);
      assert.deepEqual(ids, records.map((r) => r.RequestId));
      if (With === undefined) assert.deepEqual([...first.body.Logs, ...rest.body.Logs], wire(records));
    }
  });
});
