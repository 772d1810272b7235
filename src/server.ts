import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildHttpServer } from './api/index.js';
import { compileBearerVerifier, compileClientIpResolver, compileSecretMasker, IngestCommitter, ingestRecordLimit, RecordWriter } from './capture/index.js';
import type { ClickHouseStoreConfig, Config } from './config/index.js';
import { systemClock, toWireLog, type Clock } from './domain/index.js';
import { Authenticator, deriveKey, loadOrCreateMasterKey, LockoutTracker, SecretBox, type CredentialStore } from './identity/index.js';
import { ClickHouseCredentialStore } from './identity/clickhouse-credential-store.js';
import { SqliteCredentialStore } from './identity/sqlite-credential-store.js';
import type { Logger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { PageTokenCodec } from './query/index.js';
import { RetentionScheduler, type LogStore } from './store/index.js';
import { ClickHouseLogStore } from './store/clickhouse/clickhouse-log-store.js';
import type { ClickHouseNodeOptions } from './store/clickhouse/clickhouse-node.js';
import { SqliteLogStore } from './store/sqlite/sqlite-log-store.js';

/**
 * The composition root: the only file that names implementations. `openStores` opens what a config
 * points at; `buildServer` wires the modules into a server; `close` shuts everything down in order.
 */
export interface Stores {
  logs: LogStore;
  credentials: CredentialStore;
  masterKey: Buffer;
  close(): Promise<void>;
}

export function openCredentialStore(config: Config): { credentials: CredentialStore; masterKey: Buffer } {
  mkdirSync(config.dataDir, { recursive: true });
  const masterKey = loadOrCreateMasterKey(config.masterKeyFile);
  const secretBox = new SecretBox(deriveKey(masterKey, 'secrets'));
  // With ClickHouse, identities are shared by every replica: they live in its database (the master
  // key file is what each replica keeps locally, and must be the same everywhere).
  const credentials =
    config.store.kind === 'clickhouse'
      ? new ClickHouseCredentialStore({ node: clickHouseNodes(config.store)[0] as ClickHouseNodeOptions, database: config.store.database, secretBox })
      : new SqliteCredentialStore({ path: config.credentialsPath, secretBox });
  return { credentials, masterKey };
}

export function openLogStore(config: Config): LogStore {
  if (config.store.kind === 'clickhouse') {
    return new ClickHouseLogStore({ nodes: clickHouseNodes(config.store), database: config.store.database, cluster: config.store.cluster });
  }
  mkdirSync(config.dataDir, { recursive: true });
  return new SqliteLogStore({ path: config.store.path });
}

function clickHouseNodes(store: ClickHouseStoreConfig): ClickHouseNodeOptions[] {
  return store.urls.map((url) => ({ url, username: store.username, password: store.password }));
}

export function openStores(config: Config): Stores {
  const { credentials, masterKey } = openCredentialStore(config);
  let logs: LogStore;
  try {
    logs = openLogStore(config);
  } catch (err) {
    void credentials.close();
    throw err;
  }
  return {
    logs,
    credentials,
    masterKey,
    async close() {
      await logs.close();
      await credentials.close();
    },
  };
}

export interface OmsServer {
  app: FastifyInstance;
  writer: RecordWriter;
  metrics: Metrics;
  retention: RetentionScheduler;
  /** Starts listening and the retention schedule; resolves to the listening address. */
  listen(): Promise<string>;
  /** Stops accepting calls, finishes those in flight, writes every pending record, closes the stores. */
  close(): Promise<void>;
}

export interface BuildOptions {
  logger: Logger;
  clock?: Clock;
  /** Collect Node's process metrics (off in tests that build many servers). */
  defaultMetrics?: boolean;
}

const SHUTDOWN_FLUSH_MS = 10_000;

export function buildServer(config: Config, stores: Stores, options: BuildOptions): OmsServer {
  const clock = options.clock ?? systemClock;
  const logger = options.logger;
  const metrics = new Metrics({ defaultMetrics: options.defaultMetrics ?? true });
  const writer = new RecordWriter(stores.logs, {
    onError: (err, queued) => logger.error({ err, queued }, 'writing records to the store failed; retrying'),
    onWritten: (records, queued) => {
      metrics.recordsWritten.inc(records);
      metrics.recordQueue.set(queued);
    },
  });
  const retention = new RetentionScheduler(stores.logs, {
    retentionDays: config.retentionDays,
    clock,
    onPurged: (deleted) => {
      metrics.recordsPurged.inc(deleted);
      if (deleted > 0) logger.info({ deleted }, 'retention purge');
    },
    onError: (err) => logger.error({ err }, 'retention purge failed'),
  });
  const app = buildHttpServer({
    authenticator: new Authenticator({ credentials: stores.credentials, lockout: new LockoutTracker(clock), clock, region: config.api.region }),
    readApiLogs: {
      store: stores.logs,
      pageTokens: new PageTokenCodec(deriveKey(stores.masterKey, 'page-tokens')),
      clock,
      retentionDays: config.retentionDays,
    },
    writer,
    clock,
    apiVersion: config.api.version,
    logger,
    metrics,
    clientIp: compileClientIpResolver(config.trustedProxies),
    maskSecrets: compileSecretMasker(),
    ingest: {
      verifyToken: config.ingest.token === undefined ? undefined : compileBearerVerifier(config.ingest.token),
      maxBodyBytes: config.ingest.maxBodyBytes,
      maxBatches: config.ingest.maxBatches,
      use: {
        committer: new IngestCommitter(stores.logs),
        clock,
        retentionDays: config.retentionDays,
        maxLineBytes: config.ingest.maxLineBytes,
        maxRecords: ingestRecordLimit(config.ingest.maxBodyBytes),
      },
    },
    readiness: async () => {
      if (!writer.canAccept()) return { ready: false, reason: `${writer.backlog} records waiting for the store` };
      try {
        await stores.logs.highWaterMark();
        return { ready: true };
      } catch {
        return { ready: false, reason: 'the log store does not answer' };
      }
    },
  });

  let optimizeTimer: NodeJS.Timeout | undefined;
  return {
    app,
    writer,
    metrics,
    retention,
    async listen() {
      const address = await app.listen({ host: config.server.host, port: config.server.port });
      retention.start();
      // Planner statistics drift as the store grows; refreshing them is cheap (SQLite: PRAGMA optimize).
      optimizeTimer = setInterval(() => {
        stores.logs.optimize().catch((err: unknown) => logger.warn({ err }, 'store optimize failed'));
      }, 3_600_000);
      optimizeTimer.unref();
      return address;
    },
    async close() {
      if (optimizeTimer !== undefined) clearInterval(optimizeTimer);
      await app.close();
      await retention.stop();
      const flushed = await writer.flush(SHUTDOWN_FLUSH_MS);
      if (!flushed) saveUnwritten(config.dataDir, writer, logger);
      await stores.close();
    },
  };
}

/**
 * Last resort at shutdown when the store refuses writes: the pending records go to an NDJSON file that
 * `oms admin import` takes back, so that a shutdown never loses a record.
 */
function saveUnwritten(dataDir: string, writer: RecordWriter, logger: Logger): void {
  const records = writer.takeUnwritten();
  if (records.length === 0) return;
  const file = path.join(dataDir, `unwritten-${Date.now()}.ndjson`);
  const lines = records.map((record) => JSON.stringify(toWireLog(record)));
  writeFileSync(file, lines.join('\n') + '\n', { mode: 0o600 });
  logger.error({ file, records: records.length }, 'the store did not take every record before shutdown; import this file with oms admin import');
}
