import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildHttpServer, gatewayErrorAnswer, MAX_BODY_BYTES, OMS_CALLS } from './api/index.js';
import { compileBearerVerifier, compileClientIpResolver, compileSecretMasker, DEFAULT_SECRET_FIELDS, DiskSpool, Gateway, IngestCommitter, ingestRecordLimit, RecordWriter, type RecordSink } from './capture/index.js';
import type { ClickHouseStoreConfig, Config } from './config/index.js';
import { systemClock, toWireLog, type Clock } from './domain/index.js';
import { Authenticator, deriveKey, loadOrCreateMasterKey, LockoutTracker, SecretBox, type CredentialStore } from './identity/index.js';
import { ClickHouseCredentialStore } from './identity/clickhouse-credential-store.js';
import { SqliteCredentialStore } from './identity/sqlite-credential-store.js';
import { createAccessLog, type Logger } from './observability/logger.js';
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

export interface LogStoreTuning {
  busyTimeoutMs?: number;
  synchronous?: 'normal' | 'full';
  /** false: no write thread (a `--workers` gateway worker only reads; the primary writes). */
  writeThread?: boolean;
}

/**
 * How `oms serve` opens the log store when it is a gateway. Strict durability means on disk: each
 * commit (one per group of calls) is fsynced. A write that finds the file locked gives up after 100 ms
 * instead of 5 s, and the spool takes the records meanwhile.
 */
export function serveStoreTuning(config: Config): LogStoreTuning {
  if (config.gateway === undefined) return {};
  return { busyTimeoutMs: 100, synchronous: config.gateway.durability === 'strict' ? 'full' : 'normal' };
}

/** The SQLite tuning applies to SQLite only; ClickHouse commits are its own. */
export function openLogStore(config: Config, tuning: LogStoreTuning = {}): LogStore {
  if (config.store.kind === 'clickhouse') {
    return new ClickHouseLogStore({ nodes: clickHouseNodes(config.store), database: config.store.database, cluster: config.store.cluster });
  }
  mkdirSync(config.dataDir, { recursive: true });
  return new SqliteLogStore({ path: config.store.path, ...tuning });
}

function clickHouseNodes(store: ClickHouseStoreConfig): ClickHouseNodeOptions[] {
  return store.urls.map((url) => ({ url, username: store.username, password: store.password }));
}

export function openStores(config: Config, tuning: LogStoreTuning = {}): Stores {
  const { credentials, masterKey } = openCredentialStore(config);
  let logs: LogStore;
  try {
    logs = openLogStore(config, tuning);
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
  /** Where this server's records go: its own RecordWriter, or the primary's (a `--workers` gateway worker). */
  writer: RecordSink;
  /** This process's own durable write path; undefined in a gateway worker. */
  recordWriter: RecordWriter | undefined;
  gateway: Gateway | undefined;
  metrics: Metrics;
  retention: RetentionScheduler;
  /** Starts listening and (unless a gateway worker) the maintenance; resolves to the listening address. */
  listen(): Promise<string>;
  /** Retention purges and planner statistics, hourly: in the one process that owns the write path. */
  startMaintenance(): void;
  /** Stops accepting calls, finishes those in flight, writes every pending record, closes the stores. */
  close(): Promise<void>;
}

export interface BuildOptions {
  logger: Logger;
  clock?: Clock;
  /** Collect Node's process metrics (off in tests that build many servers). */
  defaultMetrics?: boolean;
  /**
   * A gateway worker of `oms serve --workers N`: records go to this sink (the primary's write path) and
   * the primary alone runs the spool, retention and store maintenance.
   */
  sink?: RecordSink;
}

export interface WritePath {
  writer: RecordWriter;
  close(timeoutMs: number): Promise<void>;
}

/**
 * How long a relaxed record waits for others to share its commit. A commit has a fixed cost (about
 * 270 µs of CPU on the reference machine, against 30 µs a record): at 2,000 calls/s, 10 ms makes
 * groups of 20 at about 80 µs a record, 50 ms groups of 100 at about 45 (BENCHMARKS.md).
 */
const RELAXED_FLUSH_MS = 50;

/** The durable write path: the RecordWriter over the store, with its disk spool under DATA/spool. */
export function openWritePath(config: Config, stores: Stores, logger: Logger, metrics: Metrics): WritePath {
  // Records the store refuses wait here, on local disk, and are replayed when it takes writes again.
  const spool = DiskSpool.open({
    dir: path.join(config.dataDir, 'spool'),
    onBadLine: (line) => logger.error({ line }, 'spool line skipped'),
  });
  const writer = new RecordWriter(stores.logs, {
    spool,
    // relaxed: records wait up to RELAXED_FLUSH_MS for company (the commit follows well within the
    // 100 ms promise); strict: none, a commit starts as soon as the previous one ends.
    flushDelayMs: config.gateway?.durability === 'relaxed' ? RELAXED_FLUSH_MS : 0,
    // Bounded: at about 2 KB a record, at most some 40 MB wait in memory; beyond, calls get 429.
    maxQueued: 20_000,
    onError: (err, queued) => logger.error({ err, queued }, 'writing records failed; the spool takes them, or they are retried'),
    onWritten: (records, queued) => {
      metrics.recordsWritten.inc(records);
      metrics.recordQueue.set(queued);
      metrics.spoolBacklog.set(writer.spoolBacklog);
    },
    onSpooled: (records, backlog) => {
      metrics.recordsSpooled.inc(records);
      metrics.spoolBacklog.set(backlog);
    },
  });
  metrics.spoolBacklog.set(writer.spoolBacklog);
  return {
    writer,
    async close(timeoutMs) {
      const flushed = await writer.close(timeoutMs);
      if (!flushed) saveUnwritten(config.dataDir, writer, logger);
      await spool.close();
    },
  };
}

const SHUTDOWN_FLUSH_MS = 10_000;

export function buildServer(config: Config, stores: Stores, options: BuildOptions): OmsServer {
  const clock = options.clock ?? systemClock;
  const logger = options.logger;
  const metrics = new Metrics({ defaultMetrics: options.defaultMetrics ?? true });
  const writePath = options.sink === undefined ? openWritePath(config, stores, logger, metrics) : undefined;
  const writer: RecordSink = options.sink ?? (writePath as WritePath).writer;
  const authenticator = new Authenticator({ credentials: stores.credentials, lockout: new LockoutTracker(clock), clock, region: config.api.region });
  const clientIp = compileClientIpResolver(config.trustedProxies);
  const maskSecrets = compileSecretMasker([...DEFAULT_SECRET_FIELDS, ...config.secretFields]);
  const accessLog = createAccessLog(logger);
  const gateway =
    config.gateway === undefined
      ? undefined
      : new Gateway({
          upstream: config.gateway.upstream,
          durability: config.gateway.durability,
          upstreamTimeoutMs: config.gateway.upstreamTimeoutMs,
          maxInFlight: config.gateway.maxInFlight,
          authenticator,
          writer,
          clock,
          apiVersion: config.api.version,
          clientIp,
          maskSecrets,
          maxBodyBytes: MAX_BODY_BYTES,
          omsCalls: OMS_CALLS,
          errorAnswer: gatewayErrorAnswer,
          events: {
            onCall: (call) => {
              metrics.countGatewayCall(call.kind, call.status, call.recorded);
              metrics.recordQueue.set(writer.backlog);
              accessLog(
                { requestId: call.requestId, method: call.method, path: call.path, status: call.status, durationUs: call.durationUs, call: call.callName, kind: call.kind, recorded: call.recorded },
                'gateway call',
              );
            },
            onAuthRefused: (err, requestId) => {
              const kind = (err as { kind?: unknown }).kind === 'KeyLockedOut' ? 'KeyLockedOut' : 'AuthenticationFailed';
              metrics.authFailures.inc({ kind });
              const cause = (err as { cause?: unknown }).cause;
              logger.info({ requestId, reason: typeof cause === 'string' ? cause : undefined }, 'authentication refused');
            },
            onUpstreamError: (err, kind) => {
              metrics.upstreamErrors.inc({ kind });
              logger.warn({ err, kind }, 'upstream failed');
            },
            onThrottled: () => metrics.throttled.inc(),
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
    authenticator,
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
    clientIp,
    maskSecrets,
    ...(gateway === undefined ? {} : { gateway }),
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
      const spoolBacklog = writer.spoolBacklog;
      if (!writer.canAccept()) return { ready: false, reason: `${writer.backlog} records waiting for the store`, spoolBacklog };
      if (writer.storeRefusing) return { ready: false, reason: `the log store refuses writes; ${spoolBacklog} records wait in the spool`, spoolBacklog };
      try {
        await stores.logs.highWaterMark();
        return { ready: true, spoolBacklog };
      } catch {
        return { ready: false, reason: 'the log store does not answer', spoolBacklog };
      }
    },
  });

  let optimizeTimer: NodeJS.Timeout | undefined;
  return {
    app,
    writer,
    recordWriter: writePath?.writer,
    gateway,
    metrics,
    retention,
    async listen() {
      const address = await app.listen({ host: config.server.host, port: config.server.port });
      // A gateway worker leaves retention and store maintenance to the primary.
      if (options.sink === undefined) this.startMaintenance();
      return address;
    },
    startMaintenance() {
      if (optimizeTimer !== undefined) return;
      retention.start();
      // Planner statistics drift as the store grows; refreshing them is cheap (SQLite: PRAGMA optimize).
      optimizeTimer = setInterval(() => {
        stores.logs.optimize().catch((err: unknown) => logger.warn({ err }, 'store optimize failed'));
      }, 3_600_000);
      optimizeTimer.unref();
    },
    async close() {
      if (optimizeTimer !== undefined) clearInterval(optimizeTimer);
      await app.close();
      await gateway?.close();
      await retention.stop();
      if (writePath !== undefined) await writePath.close(SHUTDOWN_FLUSH_MS);
      else await writer.close(SHUTDOWN_FLUSH_MS);
      await stores.close();
    },
  };
}

/**
 * Last resort at shutdown when the store refuses writes: the pending records go to an NDJSON file that
 * `oms admin import` takes back, so that a shutdown never loses a record.
 */
function saveUnwritten(dataDir: string, writer: RecordSink, logger: Logger): void {
  const records = writer.takeUnwritten();
  if (records.length === 0) return;
  const file = path.join(dataDir, `unwritten-${Date.now()}.ndjson`);
  const lines = records.map((record) => JSON.stringify(toWireLog(record)));
  writeFileSync(file, lines.join('\n') + '\n', { mode: 0o600 });
  logger.error({ file, records: records.length }, 'the store did not take every record before shutdown; import this file with oms admin import');
}
