/**
 * ReadApiLogs from the client side: the request and answer shapes (reference/outscale-api-readapilogs.yaml),
 * paging through every page, and retrying a page after throttling or an outage.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isRetryable, ApiCallError } from './client-error.js';
import type { OscClient } from './osc-client.js';

export interface ReadApiLogsParams {
  DryRun?: boolean;
  Filters?: Record<string, unknown>;
  NextPageToken?: string;
  ResultsPerPage?: number;
  With?: Record<string, boolean>;
}

/** A log as ReadApiLogs returns it: every field may be absent when `With` hides it. */
export type WireLog = Record<string, unknown> & { QueryDate?: string; RequestId?: string; QueryCallName?: string; AccountId?: string };

export interface ReadApiLogsAnswer {
  Logs?: WireLog[];
  NextPageToken?: string;
  ResponseContext?: { RequestId?: string };
}

export const MAX_RESULTS_PER_PAGE = 1000;

export type ApiCaller = Pick<OscClient, 'call'>;

export interface RetryOptions {
  signal?: AbortSignal | undefined;
  /** Give up after this many failed attempts in a row; default never. */
  maxAttempts?: number;
  /** Told before each pause, for a line on standard error. */
  onRetry?: (err: unknown, delayMs: number, attempt: number) => void;
  /** Longest pause; default 60 s. */
  maxDelayMs?: number;
}

/**
 * Runs `attempt` until it succeeds or fails with an error that is not worth retrying. Pauses grow
 * 1 s, 2 s, 4 s … up to maxDelayMs, with ±20 % jitter so that many clients do not come back together;
 * a Retry-After from the server is honoured when it asks for longer.
 */
export async function withRetry<T>(attempt: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const maxDelayMs = options.maxDelayMs ?? 60_000;
  for (let failures = 0; ; ) {
    try {
      return await attempt();
    } catch (err) {
      if (options.signal?.aborted === true || !isRetryable(err)) throw err;
      failures += 1;
      if (options.maxAttempts !== undefined && failures >= options.maxAttempts) throw err;
      const backoff = Math.min(maxDelayMs, 1000 * 2 ** (failures - 1)) * (0.8 + Math.random() * 0.4);
      const asked = err instanceof ApiCallError && err.retryAfterSec !== undefined ? err.retryAfterSec * 1000 : 0;
      const delayMs = Math.round(Math.min(Math.max(backoff, asked), Math.max(maxDelayMs, asked)));
      options.onRetry?.(err, delayMs, failures);
      await sleep(delayMs, undefined, options.signal === undefined ? undefined : { signal: options.signal });
    }
  }
}

/**
 * Every page of one ReadApiLogs request, in order. The first page's token carries the window and a
 * snapshot bound (SPEC section 4), so the pages neither repeat nor skip a record however many arrive
 * meanwhile. Each page is retried on its own after a retryable failure.
 */
export async function* readAllPages(client: ApiCaller, params: ReadApiLogsParams, retry: RetryOptions = {}): AsyncGenerator<ReadApiLogsAnswer> {
  let request: ReadApiLogsParams = params;
  for (;;) {
    const answer = await withRetry(() => client.call<ReadApiLogsAnswer>('ReadApiLogs', request, { signal: retry.signal }), retry);
    yield answer;
    const token = answer.NextPageToken;
    if (typeof token !== 'string' || token === '') return;
    request = { ...params, NextPageToken: token };
  }
}
