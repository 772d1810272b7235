import { homedir } from 'node:os';
import type { Command } from 'commander';
import type { Dispatcher } from 'undici';
import { parseIsoDate } from '../../domain/index.js';
import {
  ApiCallError,
  ClientError,
  DEFAULT_TIMEOUT_MS,
  OscClient,
  readAllPages,
  resolveClientProfile,
  type ReadApiLogsAnswer,
  type ReadApiLogsParams,
  type RetryOptions,
  type WireLog,
} from '../../client/index.js';

/** What a client command needs from its surroundings; the defaults are the process's. Tests pass their own. */
export interface ClientDeps {
  env: Readonly<Record<string, string | undefined>>;
  homeDir: string;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  dispatcher?: Dispatcher;
  nowMs?: () => number;
}

export function processDeps(): ClientDeps {
  return { env: process.env, homeDir: homedir(), stdout: process.stdout, stderr: process.stderr };
}

/** Runs a long command with a signal that Ctrl-C (SIGINT) or SIGTERM aborts, so it can stop cleanly. */
export async function untilStopped<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await run(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export interface ClientFlags {
  profile?: string;
  timeout?: string;
}

/** --profile and --timeout, on every client command. */
export function addClientOptions(command: Command): Command {
  return command
    .option('--profile <name>', 'profile of ~/.osc/config.json (default: OSC_PROFILE, else "default", with OSC_* variables over it)')
    .option('--timeout <seconds>', `give up on a call that does not answer within this (default ${DEFAULT_TIMEOUT_MS / 1000})`);
}

export function parsePositiveNumber(flag: string, value: string | undefined, fallback: number, integer = false): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new ClientError('Usage', `${flag} must be ${integer ? 'a whole number' : 'a number'} greater than 0, got ${JSON.stringify(value.slice(0, 64))}`);
  }
  return n;
}

export function openClient(flags: ClientFlags, deps: ClientDeps): OscClient {
  const profile = resolveClientProfile({ profile: flags.profile, env: deps.env, homeDir: deps.homeDir });
  const timeoutMs = parsePositiveNumber('--timeout', flags.timeout, DEFAULT_TIMEOUT_MS / 1000) * 1000;
  return new OscClient({ profile, timeoutMs, dispatcher: deps.dispatcher, nowMs: deps.nowMs });
}

/** A date flag (--since): an ISO 8601 date or date-time, as ReadApiLogs takes them. */
export function parseDateFlag(flag: string, value: string): number {
  const parsed = parseIsoDate(value);
  if (parsed === undefined) throw new ClientError('Usage', `${flag} must be an ISO 8601 date or date-time such as 2026-11-05 or 2026-11-05T10:00:00Z, got ${JSON.stringify(value.slice(0, 64))}`);
  return parsed.us;
}

function parseJsonObject(flag: string, value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw new ClientError('Usage', `${flag} is not valid JSON (${(err as Error).message.split('\n')[0]})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ClientError('Usage', `${flag} must be a JSON object, such as '{"QueryCallNames":["ReadVms"]}'`);
  return parsed as Record<string, unknown>;
}

function parseBoolean(flag: string, value: string | boolean): boolean {
  if (value === true || value === false) return value;
  const lower = value.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  throw new ClientError('Usage', `${flag} takes true or false, got ${JSON.stringify(value.slice(0, 64))}`);
}

export interface ApiFlags extends ClientFlags {
  Filters?: string;
  ResultsPerPage?: string;
  NextPageToken?: string;
  With?: string;
  DryRun?: string | boolean;
  all?: boolean;
  ndjson?: boolean;
}

/** The calls `oms api` makes; others would need their own parameters. */
export const API_CALLS = ['ReadApiLogs'] as const;

/** The request body from osc-cli-style flags. Parameters are passed as given; the server judges them. */
export function buildReadApiLogsParams(flags: ApiFlags): ReadApiLogsParams {
  const params: ReadApiLogsParams = {};
  if (flags.DryRun !== undefined) params.DryRun = parseBoolean('--DryRun', flags.DryRun);
  if (flags.Filters !== undefined) params.Filters = parseJsonObject('--Filters', flags.Filters);
  if (flags.NextPageToken !== undefined) params.NextPageToken = flags.NextPageToken;
  if (flags.ResultsPerPage !== undefined) {
    const text = flags.ResultsPerPage.trim();
    if (!/^-?\d+$/.test(text)) throw new ClientError('Usage', `--ResultsPerPage must be a whole number, got ${JSON.stringify(flags.ResultsPerPage.slice(0, 64))}`);
    params.ResultsPerPage = Number(text);
  }
  if (flags.With !== undefined) params.With = parseJsonObject('--With', flags.With) as Record<string, boolean>;
  return params;
}

async function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  if (!stream.write(text)) await new Promise<void>((resolve) => stream.once('drain', () => resolve()));
}

/** `oms api CALL …`: one call, or every page with --all; the answer as JSON on standard output. */
export async function runApi(callName: string, flags: ApiFlags, deps: ClientDeps): Promise<void> {
  if (!(API_CALLS as readonly string[]).includes(callName)) {
    throw new ClientError('Usage', `oms api knows ${API_CALLS.join(', ')}, not ${JSON.stringify(callName.slice(0, 64))}`);
  }
  if (flags.ndjson === true && flags.all !== true) throw new ClientError('Usage', '--ndjson goes with --all');
  const params = buildReadApiLogsParams(flags);
  const client = openClient(flags, deps);
  try {
    if (flags.all !== true) {
      await write(deps.stdout, JSON.stringify(await client.call(callName, params), null, 2) + '\n');
      return;
    }
    // --all: no retries, as for a single call: what the user sees is what the API said.
    const retry: RetryOptions = { maxAttempts: 1 };
    const logs: WireLog[] = [];
    let first: ReadApiLogsAnswer | undefined;
    for await (const page of readAllPages(client, params, retry)) {
      first ??= page;
      if (flags.ndjson === true) {
        let chunk = '';
        for (const log of page.Logs ?? []) chunk += JSON.stringify(log) + '\n';
        if (chunk !== '') await write(deps.stdout, chunk);
      } else {
        for (const log of page.Logs ?? []) logs.push(log);
      }
    }
    if (flags.ndjson !== true) {
      const merged: ReadApiLogsAnswer = { ResponseContext: first?.ResponseContext ?? {}, Logs: logs };
      await write(deps.stdout, JSON.stringify(merged, null, 2) + '\n');
    }
  } catch (err) {
    // The OUTSCALE error in full on standard output, as the API wrote it; the one-line summary follows on
    // standard error from the caller.
    if (err instanceof ApiCallError) await write(deps.stdout, JSON.stringify(err.body, null, 2) + '\n');
    throw err;
  } finally {
    await client.close();
  }
}

export function registerApi(program: Command): void {
  const api = program
    .command('api')
    .description('call the OUTSCALE API with osc-cli style arguments and print the JSON answer (ReadApiLogs)')
    .argument('<call>', `the call: ${API_CALLS.join(', ')}`)
    .option('--Filters <json>', 'FiltersApiLog as JSON, e.g. \'{"QueryCallNames":["ReadVms"]}\'')
    .option('--ResultsPerPage <n>', 'logs per page, 1 to 1000 (server default 100)')
    .option('--NextPageToken <token>', 'the page to read')
    .option('--With <json>', 'fields to show, e.g. \'{"QueryHeaderRaw":false}\'')
    .option('--DryRun [bool]', 'check signature and parameters only')
    .option('--all', 'follow every NextPageToken and print one merged answer')
    .option('--ndjson', 'with --all: one log per line instead of one answer');
  addClientOptions(api).action(async (callName: string, flags: ApiFlags) => {
    await runApi(callName, flags, processDeps());
  });
}
