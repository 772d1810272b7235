import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import { OmsError, type Clock, type ErrorKind, type LogRecord } from '../domain/index.js';
import type { Authenticator, Caller } from '../identity/index.js';
import { formatHeaderRaw, headerText, measureHeaderBytes, type SecretMasker } from './build-record.js';
import { classifyCall, normaliseCallPath, type NotLoggedReason } from './classify-call.js';
import type { ClientIpResolver } from './client-ip.js';
import type { RecordSink } from './record-sink.js';
import { RequestIdScanner } from './request-id-scanner.js';

/**
 * The gateway (SPEC section 8): every request that is not one of OMS's own routes is forwarded to the
 * upstream API with undici, headers and body untouched plus X-Forwarded-For; the answer streams back as
 * it arrives, its bytes counted and its RequestId found on the way (RequestIdScanner), never buffered.
 *
 * OUTSCALE API calls (classify-call.ts) are the ones recorded. Their body is read first (at most
 * maxBodyBytes: the signature's body hash and QueryPayloadRaw need it), their signature checked here
 * (a refusal is answered 401 without forwarding, and counts towards lockout), then forwarded. Calls the
 * upstream answers 401 or 404 get no record (SPEC section 3). Everything else streams through as is.
 *
 *   caller ──▶ classify ──not oapi──▶ upstream ──▶ caller                      (no record)
 *                 │ oapi
 *                 ▼
 *        read body ─▶ verify signature ─401─▶ caller                           (no record)
 *                 │
 *                 ▼
 *              upstream ──▶ head, chunks ──▶ caller   (bytes counted, RequestId scanned)
 *                 │ end
 *                 ▼
 *        record ─▶ RecordWriter (store or spool) ─┬─ strict: then the last byte leaves
 *                                                  └─ relaxed: the last byte leaves now
 *
 * Durability `strict` holds back the last chunk of each answer until its record is durable, so that a
 * caller who received a complete answer knows a record of it exists, even if OMS is killed right then.
 * (A streamed answer thus runs one chunk behind the upstream; memory stays one chunk per call.)
 */
export type Durability = 'strict' | 'relaxed';

export interface ErrorAnswer {
  status: number;
  body: string;
  retryAfterSec: number | undefined;
}

export interface GatewayCallEvent {
  kind: 'oapi' | NotLoggedReason;
  callName: string | undefined;
  method: string;
  /** The request path without its query: a presigned Object Storage URL carries a usable signature there. */
  path: string;
  /** 0 when the caller went away before any answer. */
  status: number;
  recorded: boolean;
  /** OMS's id of the call (the X-Oms-Request-Id header). */
  requestId: string;
  durationUs: number;
}

export interface GatewayEvents {
  /** Every forwarded or refused call, once its answer ended. */
  onCall?(event: GatewayCallEvent): void;
  onAuthRefused?(err: unknown, requestId: string): void;
  onUpstreamError?(err: unknown, kind: ErrorKind): void;
  onThrottled?(): void;
}

export interface GatewayOptions {
  upstream: string;
  durability: Durability;
  upstreamTimeoutMs: number;
  authenticator: Authenticator;
  writer: RecordSink;
  clock: Clock;
  apiVersion: string;
  clientIp: ClientIpResolver;
  maskSecrets: SecretMasker;
  maxBodyBytes: number;
  /** Calls OMS answers itself (ReadApiLogs): they go to OMS's own routes, never upstream. */
  omsCalls: ReadonlySet<string>;
  /** The one error mapper (api/osc-errors.ts), as the status and body of an answer. */
  errorAnswer(err: unknown, requestId: string): ErrorAnswer;
  /** Calls forwarded at once; beyond, new calls get 429 (the upstream pool would otherwise queue without bound). */
  maxInFlight?: number;
  /** Connections kept to the upstream. */
  connections?: number;
  events?: GatewayEvents;
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** The header OMS returns with every gateway call: its own id of the call, used as RequestId when the answer has none. */
export const GATEWAY_REQUEST_ID_HEADER = 'x-oms-request-id';

/** Paths OMS always serves itself, whatever the method. */
const OMS_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);
const OMS_PREFIXES = ['/oms/', '/console'];

// RFC 9110 section 7.6.1: connection-specific fields are not forwarded by a proxy. `expect` is answered
// by this server (Node sends 100 Continue) and `host` is kept: the signature covers it.
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
  'expect',
]);
const HOP_BY_HOP_ANSWER: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

/** Statuses after which a call is not recorded (SPEC section 3). */
const NOT_RECORDED: ReadonlySet<number> = new Set([401, 404]);

const UNREACHABLE_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EADDRNOTAVAIL']);
const TIMEOUT_CODES: ReadonlySet<string> = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

function upstreamErrorKind(err: unknown): ErrorKind {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  const causeCode = typeof err === 'object' && err !== null ? ((err as { cause?: { code?: unknown } }).cause?.code) : undefined;
  for (const c of [code, causeCode]) {
    if (typeof c !== 'string') continue;
    if (TIMEOUT_CODES.has(c)) return 'UpstreamTimeout';
    if (UNREACHABLE_CODES.has(c)) return 'UpstreamUnreachable';
  }
  return 'UpstreamFailed';
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The request target as origin-form (`/path?query`); undefined when it cannot be forwarded. */
function originForm(url: string): string | undefined {
  if (url.startsWith('/')) return url;
  // RFC 9112 section 3.2.2: a proxy may receive the absolute form.
  try {
    const parsed = new URL(url);
    if (parsed.protocol === 'http:' || parsed.protocol === 'https:') return parsed.pathname + parsed.search;
  } catch {
    // not a URL
  }
  return undefined;
}

export class Gateway {
  readonly #options: GatewayOptions;
  readonly #pool: Pool;
  readonly #maxInFlight: number;
  readonly #events: GatewayEvents;
  #inFlight = 0;

  constructor(options: GatewayOptions) {
    this.#options = options;
    this.#maxInFlight = options.maxInFlight ?? 4_096;
    this.#events = options.events ?? {};
    this.#pool = new Pool(options.upstream, {
      connections: options.connections ?? 256,
      pipelining: 1,
      keepAliveTimeout: 4_000,
      connectTimeout: options.upstreamTimeoutMs,
      headersTimeout: options.upstreamTimeoutMs,
      bodyTimeout: options.upstreamTimeoutMs,
    });
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** true when the request is one of OMS's own routes rather than a call for the upstream. */
  isOmsRoute(req: IncomingMessage): boolean {
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = normaliseCallPath(queryAt === -1 ? url : url.slice(0, queryAt));
    if (OMS_PATHS.has(path) || path === '/oms' || OMS_PREFIXES.some((prefix) => path.startsWith(prefix))) return true;
    if (req.method !== 'POST') return false;
    const call = classifyCall({ method: 'POST', path: url, headers: req.headers });
    return call.kind === 'oapi' && this.#options.omsCalls.has(call.callName);
  }

  /** Handles one request that is not an OMS route. Never throws. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    const call = new GatewayCall(this, req, res, process.hrtime.bigint(), this.#options.clock.nowUs());
    call.start();
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }

  // ── used by GatewayCall ──────────────────────────────────────────────────────────────────────────

  get options(): GatewayOptions {
    return this.#options;
  }

  get events(): GatewayEvents {
    return this.#events;
  }

  tryAcquire(): boolean {
    if (this.#inFlight >= this.#maxInFlight) return false;
    this.#inFlight++;
    return true;
  }

  release(): void {
    this.#inFlight--;
  }

  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): void {
    this.#pool.dispatch(options, handler);
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * One call through the gateway, from the request to its record. It is also the undici handler of the
 * upstream exchange, so a call allocates one object, not a set of closures.
 */
class GatewayCall implements Dispatcher.DispatchHandler {
  readonly #gateway: Gateway;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #startNs: bigint;
  readonly #startUs: number;
  readonly #requestId: string = randomUUID();
  #kind: 'oapi' | NotLoggedReason = 'not-an-api-call';
  #callName = '';
  #caller: Caller | null = null;
  #body: Buffer = EMPTY;
  #status = 0;
  #responseBytes = 0;
  #scanner: RequestIdScanner | null = null;
  /** strict durability: the latest chunk received, not yet sent. */
  #held: Buffer | null = null;
  #controller: Dispatcher.DispatchController | null = null;
  #acquired = false;
  #finished = false;
  #headSent = false;
  /** The upstream's head, until the first body byte goes out with it. */
  #head: string[] | null = null;
  #statusMessage = '';
  #recorded = false;
  #closeConnection = false;

  constructor(gateway: Gateway, req: IncomingMessage, res: ServerResponse, startNs: bigint, startUs: number) {
    this.#gateway = gateway;
    this.#req = req;
    this.#res = res;
    this.#startNs = startNs;
    this.#startUs = startUs;
  }

  start(): void {
    const req = this.#req;
    const path = originForm(req.url ?? '');
    const options = this.#gateway.options;
    if (path === undefined) {
      this.#answerError(new OmsError('InvalidParameterValue', 'The request target is not valid.'));
      return;
    }
    const call = classifyCall({ method: req.method ?? 'GET', path, headers: req.headers });
    if (call.kind === 'oapi') {
      this.#kind = 'oapi';
      this.#callName = call.callName;
    } else {
      this.#kind = call.reason;
    }
    // Refused before anything else: an overloaded gateway must not read bodies nor check signatures.
    if (!options.writer.canAccept() || !this.#gateway.tryAcquire()) {
      this.#gateway.events.onThrottled?.();
      this.#answerError(new OmsError('Throttled', 'Too many calls are in progress; retry later.', { retryAfterSec: 1 }));
      req.resume();
      return;
    }
    this.#acquired = true;
    this.#res.once('close', () => this.#onCallerClose());
    if (this.#kind !== 'oapi') {
      this.#forward(path, this.#hasBody() ? req : null);
      return;
    }
    this.#readBody(path);
  }

  #hasBody(): boolean {
    const headers = this.#req.headers;
    return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
  }

  #readBody(path: string): void {
    const req = this.#req;
    const max = this.#gateway.options.maxBodyBytes;
    const declared = Number(headerValue(req.headers['content-length']) ?? '0');
    if (declared > max) {
      this.#tooLarge();
      return;
    }
    const chunks: Buffer[] = [];
    let bytes = 0;
    const onData = (chunk: Buffer): void => {
      bytes += chunk.length;
      if (bytes > max) {
        req.off('data', onData);
        req.off('end', onEnd);
        this.#tooLarge();
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      this.#body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, bytes);
      this.#authenticate(path);
    };
    req.on('data', onData);
    req.once('end', onEnd);
    // An aborted or broken request body ends here; the 'close' listener releases the slot.
    req.once('error', () => req.destroy());
  }

  #tooLarge(): void {
    const max = this.#gateway.options.maxBodyBytes;
    this.#closeConnection = true;
    this.#answerError(new OmsError('RequestTooLarge', `The request body is larger than ${max} bytes.`));
    // Stop reading what is left; the connection closes after the answer.
    this.#req.pause();
  }

  #authenticate(path: string): void {
    const req = this.#req;
    this.#gateway.options.authenticator
      .authenticate({ method: req.method ?? 'POST', path: req.url ?? path, headers: req.headers, body: this.#body })
      .then(
        (caller) => {
          this.#caller = caller;
          if (!this.#res.destroyed) this.#forward(path, this.#body);
          else this.#finish();
        },
        (err: unknown) => {
          this.#gateway.events.onAuthRefused?.(err, this.#requestId);
          this.#answerError(err);
        },
      );
  }

  #forward(path: string, body: Buffer | IncomingMessage | null): void {
    const req = this.#req;
    const raw = req.rawHeaders;
    const headers: string[] = [];
    let forwardedFor: string | undefined;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i] as string;
      const lower = name.toLowerCase();
      if (HOP_BY_HOP.has(lower)) continue;
      if (lower === 'x-forwarded-for') {
        forwardedFor = forwardedFor === undefined ? (raw[i + 1] as string) : `${forwardedFor}, ${raw[i + 1] as string}`;
        continue;
      }
      headers.push(name, raw[i + 1] as string);
    }
    const peer = req.socket.remoteAddress ?? '';
    headers.push('X-Forwarded-For', forwardedFor === undefined ? peer : `${forwardedFor}, ${peer}`);
    if (this.#kind === 'oapi') this.#scanner = new RequestIdScanner();
    try {
      this.#gateway.dispatch({ path, method: (req.method ?? 'GET') as Dispatcher.HttpMethod, headers, body }, this);
    } catch (err) {
      this.#upstreamFailed(err);
    }
  }

  // ── undici handler ───────────────────────────────────────────────────────────────────────────────

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#res.destroyed) controller.abort(new Error('the caller went away'));
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    if (statusCode < 200) return; // 1xx informational answers are not forwarded
    this.#status = statusCode;
    const out: string[] = [];
    for (const name of Object.keys(headers)) {
      if (HOP_BY_HOP_ANSWER.has(name)) continue;
      const value = headers[name];
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) out.push(name, v);
      else out.push(name, value);
    }
    out.push(GATEWAY_REQUEST_ID_HEADER, this.#requestId);
    if (this.#res.destroyed) {
      controller.abort(new Error('the caller went away'));
      return;
    }
    // The head is written with the first body byte (or with the end, for an empty body): in strict mode
    // a body-less answer is complete only once its record is durable, and an upstream that fails before
    // its first body byte can still be answered 502.
    this.#head = out;
    this.#statusMessage = statusMessage ?? '';
  }

  #sendHead(): void {
    const head = this.#head;
    if (head === null) return;
    this.#head = null;
    this.#res.writeHead(this.#status, this.#statusMessage, head);
    this.#headSent = true;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const res = this.#res;
    if (res.destroyed) return;
    if (chunk.length === 0) return;
    this.#responseBytes += chunk.length;
    this.#scanner?.push(chunk);
    let ok: boolean;
    if (this.#gateway.options.durability === 'strict' && this.#kind === 'oapi') {
      // Hold back the latest chunk: the answer is complete only once its record is durable. Holding a
      // whole chunk rather than its last byte lets a small answer leave in one write, head included.
      const held = this.#held;
      this.#held = chunk;
      ok = held === null ? true : this.#write(held);
    } else {
      ok = this.#write(chunk);
    }
    if (!ok && !controller.paused) {
      controller.pause();
      res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    if (this.#finished) return;
    const record = this.#buildRecord();
    const res = this.#res;
    if (record !== null && this.#gateway.options.durability === 'strict' && !res.destroyed) {
      this.#gateway.options.writer.write(record).then(() => this.#end(), () => this.#end());
      return;
    }
    if (record !== null) void this.#gateway.options.writer.write(record);
    this.#end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.#finished) return;
    if (!this.#headSent) {
      this.#held = null;
      // Nothing reached the caller yet: it gets an OUTSCALE-shaped error instead of the upstream's head.
      this.#head = null;
      this.#upstreamFailed(err);
      return;
    }
    // Reset or timed out after the head: the caller sees the stream cut, and the call is recorded with
    // the status it saw and the bytes that reached it.
    this.#gateway.events.onUpstreamError?.(err, upstreamErrorKind(err));
    this.#dropHeld();
    const record = this.#buildRecord();
    if (record !== null) void this.#gateway.options.writer.write(record);
    this.#res.destroy();
    this.#finish();
  }

  // ── ends ─────────────────────────────────────────────────────────────────────────────────────────

  #end(): void {
    this.#sendHead();
    const held = this.#held;
    this.#held = null;
    if (held !== null) this.#res.end(held);
    else this.#res.end();
    this.#finish();
  }

  #write(chunk: Buffer): boolean {
    this.#sendHead();
    return this.#res.write(chunk);
  }

  #upstreamFailed(err: unknown): void {
    const kind = upstreamErrorKind(err);
    this.#gateway.events.onUpstreamError?.(err, kind);
    const details =
      kind === 'UpstreamTimeout'
        ? 'The API behind this gateway did not answer in time.'
        : kind === 'UpstreamUnreachable'
          ? 'The API behind this gateway cannot be reached.'
          : 'The API behind this gateway failed to answer.';
    this.#answerError(new OmsError(kind, details, { retryAfterSec: kind === 'UpstreamFailed' ? undefined : 1 }));
  }

  /** Answers an OUTSCALE-shaped error from OMS itself; recorded when the call is an authenticated one. */
  #answerError(err: unknown): void {
    const res = this.#res;
    const answer = this.#gateway.options.errorAnswer(err, this.#requestId);
    this.#status = answer.status;
    if (res.destroyed || res.headersSent) {
      res.destroy();
      this.#finish();
      return;
    }
    const body = Buffer.from(answer.body);
    this.#responseBytes = body.length;
    const headers: string[] = ['content-type', 'application/json', 'content-length', String(body.length), GATEWAY_REQUEST_ID_HEADER, this.#requestId];
    if (answer.retryAfterSec !== undefined) headers.push('retry-after', String(answer.retryAfterSec));
    if (this.#closeConnection) headers.push('connection', 'close');
    res.writeHead(answer.status, headers);
    this.#headSent = true;
    this.#scanner = null;
    const record = this.#buildRecord();
    if (record !== null && this.#gateway.options.durability === 'strict') {
      // The head and body leave together once the record is durable.
      const send = (): void => {
        res.end(body);
        this.#finish();
      };
      this.#gateway.options.writer.write(record).then(send, send);
      return;
    }
    if (record !== null) void this.#gateway.options.writer.write(record);
    res.end(body);
    this.#finish();
  }

  #onCallerClose(): void {
    if (this.#finished) return;
    // The caller went away before the answer ended: stop the upstream exchange. The call reached the
    // upstream, so it is recorded with what was sent.
    this.#dropHeld();
    if (this.#controller !== null && !this.#controller.aborted) this.#controller.abort(new Error('the caller went away'));
    if (this.#headSent) {
      const record = this.#buildRecord();
      if (record !== null) void this.#gateway.options.writer.write(record);
    }
    this.#finish();
  }

  /** The held-back byte will not be sent: it is not part of what the caller received. */
  #dropHeld(): void {
    if (this.#held !== null) this.#responseBytes -= this.#held.length;
    this.#held = null;
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#acquired) this.#gateway.release();
    const onCall = this.#gateway.events.onCall;
    if (onCall === undefined) return;
    onCall({
      kind: this.#kind,
      callName: this.#kind === 'oapi' ? this.#callName : undefined,
      method: this.#req.method ?? '',
      path: pathOnly(this.#req.url ?? ''),
      status: this.#status,
      recorded: this.#recorded,
      requestId: this.#requestId,
      durationUs: Number((process.hrtime.bigint() - this.#startNs) / 1000n),
    });
  }

  /** The record of this call, or null when it gets none (not oapi, not authenticated, 401 or 404). */
  #buildRecord(): LogRecord | null {
    const caller = this.#caller;
    if (this.#recorded || this.#kind !== 'oapi' || caller === null || NOT_RECORDED.has(this.#status)) return null;
    this.#recorded = true;
    const options = this.#gateway.options;
    const req = this.#req;
    const body = this.#body;
    const userAgent = headerValue(req.headers['user-agent']);
    return {
      AccountId: caller.accountId,
      CallDuration: Number((process.hrtime.bigint() - this.#startNs) / 1000n),
      QueryAccessKey: caller.accessKeyId,
      QueryApiName: 'oapi',
      QueryApiVersion: options.apiVersion,
      QueryCallName: this.#callName,
      QueryDateUs: this.#startUs,
      QueryHeaderRaw: formatHeaderRaw(req.rawHeaders),
      QueryHeaderSize: measureHeaderBytes(req.method ?? 'POST', req.url ?? '/', req.httpVersion, req.rawHeaders),
      QueryIpAddress: options.clientIp(req.socket.remoteAddress, req.headers['x-forwarded-for']),
      QueryPayloadRaw: body.length === 0 ? '' : options.maskSecrets(body.toString('utf8')),
      QueryPayloadSize: body.length,
      QueryUserAgent: userAgent === undefined ? '' : headerText(userAgent),
      RequestId: this.#scanner?.requestId ?? this.#requestId,
      ResponseSize: this.#responseBytes,
      ResponseStatusCode: this.#status,
    };
  }
}

function pathOnly(url: string): string {
  const queryAt = url.indexOf('?');
  return queryAt === -1 ? url : url.slice(0, queryAt);
}
