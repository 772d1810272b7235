import cluster, { type Worker } from 'node:cluster';
import type { Command } from 'commander';
import { RemoteRecordSink, serveRemoteRecords, type IpcChannel } from '../../capture/index.js';
import type { Config } from '../../config/index.js';
import { createLogger, type Logger } from '../../observability/logger.js';
import { buildServer, openStores, serveStoreTuning, type OmsServer } from '../../server.js';
import { addSettingOptions, configFromOptions } from '../options.js';

export function registerServe(program: Command): void {
  const serve = program
    .command('serve')
    .description('serve ReadApiLogs on the embedded store (creates a first account and access key on first start)');
  addSettingOptions(serve).action(async () => {
    const config = configFromOptions(serve);
    const logger = createLogger(config.logLevel);
    const workers = config.gateway?.workers ?? 1;
    if (workers > 1 && cluster.isWorker) {
      await runGatewayWorker(config, logger);
      return;
    }
    const stores = openStores(config, serveStoreTuning(config));
    if ((await stores.credentials.countAccounts()) === 0) {
      const account = await stores.credentials.createAccount({});
      const key = await stores.credentials.createAccessKey(account.AccountId);
      const endpoint = `http://${config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host}:${config.server.port}`;
      // Printed once, on standard output and never in the log: this is the only copy of the secret in clear.
      process.stdout.write(
        [
          '',
          'First start: OMS created an account and an access key. Keep the secret key now; it is not shown again.',
          `  AccountId:   ${account.AccountId}`,
          `  AccessKeyId: ${key.AccessKeyId}`,
          `  SecretKey:   ${key.SecretKey}`,
          '',
          'Try it:',
          `  curl --aws-sigv4 "osc:osc:${config.api.region}:api" --user "${key.AccessKeyId}:${key.SecretKey}" \\`,
          `    -H 'Content-Type: application/json' -d '{}' ${endpoint}/api/v1/ReadApiLogs`,
          '',
          '',
        ].join('\n'),
      );
    }
    const server = buildServer(config, stores, { logger });
    if (workers > 1) {
      runPrimary(server, workers, logger);
      return;
    }
    const address = await server.listen();
    logger.info(
      {
        address,
        store: config.store.kind === 'sqlite' ? config.store.path : `clickhouse ${config.store.database}`,
        region: config.api.region,
        upstream: config.gateway?.upstream,
        durability: config.gateway?.durability,
      },
      'oms serving',
    );

    let closing = false;
    const shutdown = (signal: string) => {
      if (closing) return;
      closing = true;
      logger.info({ signal }, 'shutting down: finishing calls in flight and writing pending records');
      reportShutdown(server.close(), logger);
    };
    onSignal(shutdown);
  });
}

/** Exit code 0 once the shutdown is done, 1 (and the error in the log) if it failed. */
function reportShutdown(done: Promise<void>, logger: Logger): void {
  done.then(
    () => {
      logger.info('stopped');
      logger.flush();
      process.exitCode = 0;
    },
    (err: unknown) => {
      logger.error({ err }, 'shutdown failed');
      logger.flush();
      process.exitCode = 1;
    },
  );
}

function onSignal(shutdown: (signal: string) => void): void {
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

/**
 * `--workers N`: this process owns the durable write path (store appends, spool, replay, retention) and
 * runs no HTTP; N gateway workers (node:cluster, sharing the listening port) send it their records and
 * wait for them to be durable as they would for their own. If a worker dies, another is started.
 */
function runPrimary(server: OmsServer, workers: number, logger: Logger): void {
  const writer = server.recordWriter;
  if (writer === undefined) throw new Error('the primary owns the write path');
  server.startMaintenance();
  let closing = false;
  const stops = new Map<Worker, () => void>();
  const start = (): void => {
    const worker = cluster.fork();
    stops.set(worker, serveRemoteRecords(writer, worker as unknown as IpcChannel));
  };
  cluster.on('exit', (worker, code, signal) => {
    stops.get(worker)?.();
    stops.delete(worker);
    if (closing) return;
    logger.error({ pid: worker.process.pid, code, signal }, 'gateway worker exited; starting another');
    start();
  });
  for (let i = 0; i < workers; i++) start();
  logger.info({ workers }, 'oms primary: gateway workers started');

  onSignal((signal) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down: workers finish their calls, then pending records are written');
    const exited = [...stops.keys()].map((worker) => new Promise<void>((resolve) => {
      if (worker.isDead()) resolve();
      else worker.once('exit', () => resolve());
      worker.process.kill('SIGTERM');
    }));
    reportShutdown(Promise.all(exited).then(() => server.close()), logger);
  });
}

/** One gateway process of `--workers N`: serves HTTP; its records go to the primary. */
async function runGatewayWorker(config: Config, logger: Logger): Promise<void> {
  // A worker reads (ReadApiLogs, readiness) but never writes: its records go to the primary.
  const stores = openStores(config, { ...serveStoreTuning(config), writeThread: false });
  const sink = new RemoteRecordSink(process as unknown as IpcChannel);
  const server = buildServer(config, stores, { logger, sink });
  const address = await server.listen();
  logger.info({ address, pid: process.pid }, 'oms gateway worker serving');
  let closing = false;
  onSignal(() => {
    if (closing) return;
    closing = true;
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'worker shutdown failed');
        process.exit(1);
      },
    );
  });
}
