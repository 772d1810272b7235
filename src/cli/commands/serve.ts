import type { Command } from 'commander';
import { createLogger } from '../../observability/logger.js';
import { buildServer, openStores, serveStoreTuning } from '../../server.js';
import { addSettingOptions, configFromOptions } from '../options.js';

export function registerServe(program: Command): void {
  const serve = program
    .command('serve')
    .description('serve ReadApiLogs on the embedded store (creates a first account and access key on first start)');
  addSettingOptions(serve).action(async () => {
    const config = configFromOptions(serve);
    const logger = createLogger(config.logLevel);
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
    const address = await server.listen();
    logger.info({ address, store: config.store.path, region: config.api.region, upstream: config.gateway?.upstream, durability: config.gateway?.durability }, 'oms serving');

    let closing = false;
    const shutdown = (signal: string) => {
      if (closing) return;
      closing = true;
      logger.info({ signal }, 'shutting down: finishing calls in flight and writing pending records');
      server.close().then(
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
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
  });
}
