import type { Command } from 'commander';
import { systemClock } from '../../domain/index.js';
import type { AccessKeyState } from '../../identity/index.js';
import { RetentionScheduler } from '../../store/index.js';
import { openCredentialStore, openLogStore } from '../../server.js';
import { addSettingOptions, configFromOptions, STORE_SETTINGS } from '../options.js';
import { importRecords } from './import.js';

function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

async function withCredentials<T>(command: Command, run: (store: ReturnType<typeof openCredentialStore>['credentials']) => Promise<T>): Promise<T> {
  const { credentials } = openCredentialStore(configFromOptions(command));
  try {
    return await run(credentials);
  } finally {
    await credentials.close();
  }
}

/** `oms admin …`: identities and store maintenance, on the same stores as `serve`, also while it runs. */
export function registerAdmin(program: Command): void {
  const admin = program.command('admin').description('manage accounts, users, access keys and the log store');

  const createAccount = admin.command('create-account').description('create an account -> {AccountId}');
  addSettingOptions(createAccount, STORE_SETTINGS)
    .option('--account-id <id>', 'a 12-digit account id (default: a random one)')
    .option('--email <email>', 'contact address of the account')
    .action(async (opts: { accountId?: string; email?: string }) => {
      printJson(await withCredentials(createAccount, (store) => store.createAccount(opts)));
    });

  const createUser = admin.command('create-user').description('create an EIM user in an account -> {AccountId, UserName}');
  addSettingOptions(createUser, STORE_SETTINGS)
    .requiredOption('--account-id <id>', 'the account of the user')
    .requiredOption('--user-name <name>', 'the user name')
    .action(async (opts: { accountId: string; userName: string }) => {
      printJson(await withCredentials(createUser, (store) => store.createUser(opts.accountId, opts.userName)));
    });

  const createKey = admin
    .command('create-access-key')
    .description('create an access key for an account or one of its users -> {AccessKeyId, SecretKey, AccountId, UserName?}');
  addSettingOptions(createKey, STORE_SETTINGS)
    .requiredOption('--account-id <id>', 'the account owning the key')
    .option('--user-name <name>', 'the EIM user the key belongs to (default: the account itself)')
    .action(async (opts: { accountId: string; userName?: string }) => {
      printJson(await withCredentials(createKey, (store) => store.createAccessKey(opts.accountId, opts.userName)));
    });

  const updateKey = admin.command('update-access-key').description('activate or deactivate an access key -> {AccessKeyId, State}');
  addSettingOptions(updateKey, STORE_SETTINGS)
    .requiredOption('--access-key-id <id>', 'the access key')
    .requiredOption('--state <state>', 'ACTIVE or INACTIVE')
    .action(async (opts: { accessKeyId: string; state: string }) => {
      if (opts.state !== 'ACTIVE' && opts.state !== 'INACTIVE') {
        throw new UsageError(`--state must be ACTIVE or INACTIVE, got ${JSON.stringify(opts.state)}`);
      }
      const state: AccessKeyState = opts.state;
      await withCredentials(updateKey, (store) => store.setAccessKeyState(opts.accessKeyId, state));
      printJson({ AccessKeyId: opts.accessKeyId, State: state });
    });

  const importCmd = admin
    .command('import')
    .description('import Log records (NDJSON, or .ndjson.gz) into the store -> {Imported, Duplicates, Rejected}')
    .argument('<file>', 'the file to read, or - for standard input');
  addSettingOptions(importCmd, STORE_SETTINGS).action(async (file: string) => {
    const config = configFromOptions(importCmd);
    const store = openLogStore(config);
    try {
      const report = await importRecords(file, store, { retentionDays: config.retentionDays, clock: systemClock, progress: process.stderr });
      printJson(report);
      if (report.Rejected.length > 0) process.exitCode = 1;
    } finally {
      await store.close();
    }
  });

  const purge = admin.command('purge').description('delete the records older than the retention period, once -> {Purged}');
  addSettingOptions(purge, STORE_SETTINGS).action(async () => {
    const config = configFromOptions(purge);
    const store = openLogStore(config);
    try {
      const deleted = await new RetentionScheduler(store, { retentionDays: config.retentionDays, clock: systemClock }).purgeOnce();
      printJson({ Purged: deleted });
    } finally {
      await store.close();
    }
  });
}

/** A mistake in how a command was called: one line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
