import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { callSigned, makeRecord, ManualClock, startTestServer, type TestKey, type TestServer } from '../fixtures/test-server.js';
import { describeSignedEndpointSecurity } from './signed-endpoint-suite.js';

const clock = new ManualClock();
let t: TestServer;

before(async () => {
  t = await startTestServer({ clock, settings: {} });
});
after(async () => {
  await t.close();
});

describeSignedEndpointSecurity('ReadApiLogs', () => ({
  async send(key, options = {}) {
    if (options.unsigned) {
      const response = await fetch(`${t.url}/api/v1/ReadApiLogs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...options.headers },
        body: '{}',
      });
      const text = await response.text();
      return { status: response.status, headers: response.headers, text, body: JSON.parse(text) };
    }
    return callSigned(t.url, key, {}, { nowMs: options.nowMs ?? clock.us / 1000, headers: options.headers ?? {} });
  },
  newKey: () => t.createKey(),
  deactivate: (id) => t.stores.credentials.setAccessKeyState(id, 'INACTIVE'),
  nowMs: () => clock.us / 1000,
  advanceMs: (ms) => clock.advanceMs(ms),
}));

describe('ReadApiLogs: account isolation', () => {
  let a: TestKey;
  let b: TestKey;
  before(async () => {
    a = await t.createKey();
    b = await t.createKey();
    const records = [];
    for (let i = 0; i < 30; i++) {
      records.push(makeRecord({ AccountId: a.accountId, QueryDateUs: clock.us - (i + 1) * 60_000_000, QueryIpAddress: '198.51.100.7', RequestId: `shared-${i}` }));
    }
    records.push(makeRecord({ AccountId: b.accountId, QueryDateUs: clock.us - 90_000_000, RequestId: 'only-b' }));
    await t.seed(records);
  });

  it("never returns another account's records, whatever the filters", async () => {
    const filters = [
      {},
      { RequestIds: ['shared-1', 'shared-2', 'only-b'] },
      { QueryIpAddresses: ['198.51.100.7'] },
      { QueryAccessKeys: ['AKIATESTKEY000000001'] },
      { QueryCallNames: ['ReadVms'], ResponseStatusCodes: [200] },
      { QueryDateAfter: '2000-01-01', QueryDateBefore: '2999-01-01' },
    ];
    for (const Filters of filters) {
      const answer = await callSigned(t.url, b, { Filters, ResultsPerPage: 1000 }, { nowMs: clock.us / 1000 });
      assert.equal(answer.status, 200, answer.text);
      for (const log of answer.body.Logs) assert.equal(log.AccountId, b.accountId, JSON.stringify(Filters));
    }
  });

  it("refuses another account's page token with 4078 instead of showing its records", async () => {
    const first = await callSigned(t.url, a, { ResultsPerPage: 5, Filters: { QueryIpAddresses: ['198.51.100.7'] } }, { nowMs: clock.us / 1000 });
    assert.ok(first.body.NextPageToken);
    const stolen = await callSigned(t.url, b, { ResultsPerPage: 5, NextPageToken: first.body.NextPageToken, Filters: { QueryIpAddresses: ['198.51.100.7'] } }, { nowMs: clock.us / 1000 });
    assert.equal(stolen.status, 400);
    assert.equal(stolen.body.Errors[0].Code, '4078');
    assert.equal(stolen.text.includes('shared-'), false);
  });

  it('refuses forged tokens with 4078', async () => {
    for (const token of ['x', 'A'.repeat(64), Buffer.from(JSON.stringify({ a: a.accountId })).toString('base64url').padEnd(60, 'A'), '../../etc/passwd']) {
      const answer = await callSigned(t.url, b, { NextPageToken: token }, { nowMs: clock.us / 1000 });
      assert.equal(answer.status, 400, token);
      assert.equal(answer.body.Errors[0].Code, '4078', token);
    }
  });
});
