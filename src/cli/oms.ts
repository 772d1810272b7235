#!/usr/bin/env -S node --max-semi-space-size=4
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/index.js';
import { isOmsError } from '../domain/index.js';
import { IdentityError } from '../identity/index.js';
import { ClientError } from '../client/index.js';
import { registerAdmin, UsageError } from './commands/admin.js';
import { registerApi } from './commands/api.js';
import { registerArchive } from './commands/archive.js';
import { ImportInputError } from './commands/import.js';
import { registerServe } from './commands/serve.js';
import { registerTail } from './commands/tail.js';

/**
 * The `oms` command. Mistakes are one line on standard error, never a stack trace:
 * exit 2 for a wrong call or configuration, 1 for a refused operation, 0 for success.
 */
const program = new Command();
program
  .name('oms')
  .description('OUTSCALE Monitoring Services, self-hosted: records OUTSCALE API calls and serves them through ReadApiLogs')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerServe(program);
registerAdmin(program);
registerApi(program);
registerTail(program);
registerArchive(program);

function fail(message: string, code: number): void {
  process.stderr.write(`oms: ${message}\n`);
  process.exitCode = code;
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Commander has already printed its message (or the help/version text).
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else if (err instanceof ClientError) {
    fail(err.message, err.exitCode);
  } else if (err instanceof ConfigError || err instanceof UsageError) {
    fail(err.message, 2);
  } else if (err instanceof IdentityError || err instanceof ImportInputError) {
    fail(err.message, 1);
  } else if (isOmsError(err)) {
    fail(err.details, 1);
  } else if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    fail(`the address is already in use (${(err as Error).message.replace(/^.*EADDRINUSE:?\s*/, '')})`, 1);
  } else if (typeof (err as NodeJS.ErrnoException).code === 'string' && (err as NodeJS.ErrnoException).syscall !== undefined) {
    const e = err as NodeJS.ErrnoException;
    fail(`${e.syscall} failed: ${e.code}${e.path ? ` (${e.path})` : ''}`, 1);
  } else {
    fail(`unexpected error: ${(err as Error).message ?? String(err)}`, 1);
  }
}
