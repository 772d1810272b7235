/**
 * The signed HTTP client of `oms api`, `oms tail` and `oms archive`: a POST of JSON to
 * `${apiBaseUrl}/${CallName}`, signed OSC4-HMAC-SHA256 by the very signer the server verifies against
 * (identity/sigv4/sign-request.ts), sent with undici. Every failure becomes one ClientError line.
 */
import { Agent, errors as undiciErrors, request, type Dispatcher } from 'undici';
import { signRequest } from '../identity/sigv4/index.js';
import { ApiCallError, ClientError } from './client-error.js';
import type { ClientProfile } from './osc-profile.js';

export const CLIENT_USER_AGENT = 'oms-cli/0.1.0';
export const DEFAULT_TIMEOUT_MS = 30_000;
/** A ReadApiLogs page holds at most 1000 logs of at most ~2 MiB each; anything above is not an answer. */
const MAX_ANSWER_BYTES = 512 * 1024 * 1024;

export interface OscClientOptions {
  profile: ClientProfile;
  /** Connect, first byte of the answer, and each pause inside it. Default 30 s. */
  timeoutMs?: number;
  /** Where requests go; default an undici Agent with the timeouts. Tests pass their own. */
  dispatcher?: Dispatcher;
  /** Signing time in epoch milliseconds; default the current time. */
  nowMs?: () => number;
}

export interface PreparedRequest {
  method: 'POST';
  url: string;
  /** Exactly the headers sent, Authorization included. */
  headers: Record<string, string>;
  body: string;
}

/** The request `call` sends, signed at `nowMs`. Pure: the same inputs give the same bytes. */
export function prepareCall(profile: ClientProfile, callName: string, params: unknown, nowMs: number): PreparedRequest {
  const url = `${profile.apiBaseUrl}/${callName}`;
  const body = JSON.stringify(params);
  const signed = signRequest({
    method: 'POST',
    url,
    headers: { 'Content-Type': 'application/json' },
    body,
    accessKeyId: profile.accessKeyId,
    secretKey: profile.secretKey,
    region: profile.region,
    now: nowMs,
  });
  // User-Agent is sent but not signed: proxies on the way may rewrite it.
  return { method: 'POST', url, headers: { ...signed, 'User-Agent': CLIENT_USER_AGENT }, body };
}

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID']);

function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) return undefined;
  const seconds = Number(text);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds, 3600);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.min(Math.max(0, (date - Date.now()) / 1000), 3600);
}

function networkError(err: unknown, url: string, timeoutMs: number): ClientError {
  if (
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError ||
    err instanceof undiciErrors.ConnectTimeoutError
  ) {
    return new ClientError('Timeout', `${url} did not answer within ${timeoutMs / 1000} s`, { cause: err });
  }
  const code = (err as NodeJS.ErrnoException).code ?? ((err as { cause?: NodeJS.ErrnoException }).cause?.code);
  const origin = new URL(url).host;
  if (code !== undefined && UNREACHABLE_CODES.has(code)) {
    return new ClientError('Unreachable', `cannot reach ${origin}: ${code}`, { cause: err });
  }
  return new ClientError('Unreachable', `cannot reach ${origin}: ${(err as Error).message?.split('\n')[0] ?? String(err)}`, { cause: err });
}

function isConnectionReset(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code ?? (err as { cause?: NodeJS.ErrnoException }).cause?.code;
  return code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE';
}

export class OscClient {
  readonly profile: ClientProfile;
  readonly timeoutMs: number;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #nowMs: () => number;

  constructor(options: OscClientOptions) {
    this.profile = options.profile;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#ownsDispatcher = options.dispatcher === undefined;
    this.#dispatcher =
      options.dispatcher ??
      new Agent({ connect: { timeout: this.timeoutMs }, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs, keepAliveTimeout: 4_000 });
    this.#nowMs = options.nowMs ?? Date.now;
  }

  /**
   * Calls `callName` and returns its JSON answer. Throws ApiCallError when the API answers an error
   * (the body kept whole), ClientError otherwise (unreachable, timeout, an answer that is not JSON).
   */
  async call<T = unknown>(callName: string, params: unknown, options: { signal?: AbortSignal } = {}): Promise<T> {
    const prepared = prepareCall(this.profile, callName, params, this.#nowMs());
    const send = () =>
      request(prepared.url, { method: prepared.method, headers: prepared.headers, body: prepared.body, dispatcher: this.#dispatcher, signal: options.signal });
    let answer: Dispatcher.ResponseData;
    try {
      try {
        answer = await send();
      } catch (err) {
        // A kept-alive connection the server closed just as the request left: the calls this client
        // makes only read, so sending again at once on a fresh connection is safe.
        if (options.signal?.aborted === true || !isConnectionReset(err)) throw err;
        answer = await send();
      }
    } catch (err) {
      if (options.signal?.aborted === true) throw err;
      throw networkError(err, prepared.url, this.timeoutMs);
    }
    let text: string;
    try {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of answer.body) {
        size += (chunk as Buffer).length;
        if (size > MAX_ANSWER_BYTES) {
          answer.body.destroy();
          throw new ClientError('NotJson', `${prepared.url} answered more than ${MAX_ANSWER_BYTES} bytes: not an OUTSCALE API answer`);
        }
        chunks.push(chunk as Buffer);
      }
      text = Buffer.concat(chunks).toString('utf8');
    } catch (err) {
      if (err instanceof ClientError) throw err;
      if (options.signal?.aborted === true) throw err;
      throw networkError(err, prepared.url, this.timeoutMs);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const contentType = String(answer.headers['content-type'] ?? 'no content type').split(';')[0];
    if (parsed === undefined || typeof parsed !== 'object' || parsed === null) {
      throw new ClientError(
        'NotJson',
        `${prepared.url} answered HTTP ${answer.statusCode} with ${contentType}, not JSON: is it an OUTSCALE API endpoint?`,
      );
    }
    if (answer.statusCode >= 300) {
      throw new ApiCallError(callName, answer.statusCode, parsed, parseRetryAfter(answer.headers['retry-after']));
    }
    return parsed as T;
  }

  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }
}
