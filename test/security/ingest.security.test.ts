import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import type { Log } from '../../src/domain/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { buildServer, openStores, type OmsServer, type Stores } from '../../src/server.js';
import { INGEST_TOKEN, ndjson, postIngest, wireLog } from '../fixtures/ingest-client.js';
import { callSigned, startTestServer, type TestKey, type TestServer } from '../fixtures/test-server.js';

const byId = (x: Log, y: Log) => (x.RequestId < y.RequestId ? -1 : x.RequestId > y.RequestId ? 1 : 0);

describe('ingest: records are readable only by their own account', () => {
  let t: TestServer;
  let a: TestKey;
  let aUser: TestKey;
  let b: TestKey;
  let c: TestKey;
  let logsA: Log[];
  let logsB: Log[];
  before(async () => {
    t = await startTestServer({ settings: { ingestToken: INGEST_TOKEN } });
    a = await t.createKey();
    aUser = await t.createKey({ accountId: a.accountId, userName: 'auditor' });
    b = await t.createKey();
    c = await t.createKey();
    logsA = [wireLog(a.accountId), wireLog(a.accountId), wireLog(a.accountId)];
    // B gets a record with the same RequestId as one of A's: still two records, each in its account.
    logsB = [wireLog(b.accountId), { ...wireLog(b.accountId), RequestId: (logsA[0] as Log).RequestId }];
    const answer = await postIngest(t.url, ndjson([logsA[0], logsB[0], logsA[1], logsB[1], logsA[2]]));
    assert.deepEqual(answer.body, { Accepted: 5, Duplicates: 0, Rejected: [] });
  });
  after(async () => t.close());

  const read = async (key: TestKey, filters: Record<string, unknown> = {}) => {
    const answer = await callSigned(t.url, key, { Filters: { QueryCallNames: ['ReadVms'], ...filters }, ResultsPerPage: 1000 });
    assert.equal(answer.status, 200, answer.text);
    return [...(answer.body.Logs as Log[])].sort(byId);
  };

  it("an account's key sees its ingested records with every field, and none of another account", async () => {
    assert.deepEqual(await read(a), [...logsA].sort(byId));
    assert.deepEqual(await read(b), [...logsB].sort(byId));
  });

  it("an EIM user's key sees its account's records", async () => {
    assert.deepEqual(await read(aUser), [...logsA].sort(byId));
  });

  it("asking for another account's RequestIds returns nothing", async () => {
    assert.deepEqual(await read(c, { RequestIds: [...logsA, ...logsB].map((l) => l.RequestId) }), []);
    const onlyB = await read(b, { RequestIds: [(logsA[1] as Log).RequestId] });
    assert.deepEqual(onlyB, []);
  });
});

describe('ingest: the token never reaches the log', () => {
  const logged: Buffer[] = [];
  let dataDir: string;
  let stores: Stores;
  let server: OmsServer;
  let url: string;
  before(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'oms-test-'));
    const config = loadConfig({ dataDir, port: '0', host: '127.0.0.1', logLevel: 'trace', ingestToken: INGEST_TOKEN }, {});
    stores = openStores(config);
    const sink = new PassThrough();
    sink.on('data', (chunk: Buffer) => logged.push(chunk));
    server = buildServer(config, stores, { logger: createLogger('trace', sink), defaultMetrics: false });
    url = await server.listen();
  });
  after(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('neither the right token nor a wrong one is written in any log line, while the refusals are', async () => {
    const wrong = 'wrong-token-that-must-not-be-logged-42';
    const account = (await stores.credentials.createAccount({})).AccountId;
    assert.equal((await postIngest(url, ndjson([wireLog(account)]))).status, 200);
    assert.equal((await postIngest(url, ndjson([wireLog(account)]), { token: wrong })).status, 401);
    assert.equal((await postIngest(url, ndjson([wireLog(account)]), { authorization: `Basic ${wrong}` })).status, 401);
    assert.equal((await postIngest(url, 'not json', { token: wrong })).status, 401);
    await new Promise((r) => setTimeout(r, 50));
    const text = Buffer.concat(logged).toString('utf8');
    assert.match(text, /authentication refused/);
    assert.match(text, /"msg":"ingest batch"/);
    assert.ok(!text.includes(INGEST_TOKEN), 'the ingest token is not logged');
    assert.ok(!text.includes(wrong), 'a presented token is not logged');
  });
});
