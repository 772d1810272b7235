import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { LogRecord } from '../domain/index.js';
import type { ClientIpResolver, ErrorAnswer, Gateway, SecretMasker } from '../capture/index.js';
import { formatHeaderRaw, headerText, measureHeaderBytes } from '../capture/index.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { mapError, oscErrorBody } from './osc-errors.js';
import { RequestState } from './request-state.js';
import { registerHealthRoutes, type Readiness } from './routes/health.js';
import { registerIngestRoutes, type IngestRouteDeps } from './routes/ingest.js';
import { registerOscApiRoutes, type OscApiDeps } from './routes/osc-api.js';

export const MAX_BODY_BYTES = 1_048_576;

export interface HttpServerDeps extends OscApiDeps {
  apiVersion: string;
  logger: Logger;
  metrics: Metrics;
  clientIp: ClientIpResolver;
  maskSecrets: SecretMasker;
  readiness: () => Promise<Readiness>;
  /** With --upstream: requests that are not OMS routes go to the gateway instead of Fastify. */
  gateway?: Gateway;
  ingest: Omit<IngestRouteDeps, 'logger' | 'metrics' | 'sendError'>;
}

/** The gateway's view of the one error mapper: status and OUTSCALE body of an error it answers itself. */
export function gatewayErrorAnswer(err: unknown, requestId: string): ErrorAnswer {
  const mapped = mapError(err, requestId);
  return { status: mapped.status, body: JSON.stringify(mapped.body), retryAfterSec: mapped.retryAfterSec };
}

const REQUEST_TIMEOUT_MS = 30_000;
const CONNECTION_TIMEOUT_MS = 60_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;

/** Statuses after which a call is not recorded (SPEC section 3): unauthorized and unknown call. */
const NOT_RECORDED: ReadonlySet<number> = new Set([401, 404]);

function sendOscError(reply: FastifyReply, err: unknown, logger: Logger, metrics: Metrics): FastifyReply {
  const mapped = mapError(err, reply.request.id);
  if (mapped.isBug) {
    logger.error({ err, requestId: reply.request.id }, 'internal error');
  } else if (mapped.status === 401) {
    const cause = (err as { cause?: unknown }).cause;
    metrics.authFailures.inc({ kind: mapped.body.Errors[0]?.Code === '5' ? 'KeyLockedOut' : 'AuthenticationFailed' });
    logger.info({ requestId: reply.request.id, reason: typeof cause === 'string' ? cause : undefined }, 'authentication refused');
  }
  if (mapped.retryAfterSec !== undefined) reply.header('retry-after', String(mapped.retryAfterSec));
  return reply.code(mapped.status).header('content-type', 'application/json').send(JSON.stringify(mapped.body));
}

/**
 * Malformed HTTP never reaches a route: Node's parser reports it here, on the bare socket. It still
 * gets an OUTSCALE-shaped answer (431 for oversized headers, 408 for a client too slow, else 400).
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const reason = status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
  const details = status === 431 ? 'The request headers are too large.' : status === 408 ? 'The request took too long to arrive.' : 'The request is not valid HTTP.';
  const body = JSON.stringify(oscErrorBody('InvalidParameterValue', details, randomUUID()));
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export function buildHttpServer(deps: HttpServerDeps): FastifyInstance {
  const gateway = deps.gateway;
  const app = Fastify({
    // With a gateway, the node:http server is ours: gateway calls go straight to it (no Fastify routing
    // on the hot path), OMS's own routes to Fastify. The timeouts are those Fastify sets on its own server.
    ...(gateway === undefined
      ? {}
      : {
          serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void) => {
            const server = createServer((req, res) => {
              if (gateway.isOmsRoute(req)) handler(req, res);
              else gateway.handle(req, res);
            });
            server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
            server.requestTimeout = REQUEST_TIMEOUT_MS;
            server.setTimeout(CONNECTION_TIMEOUT_MS);
            return server;
          },
        }),
    logger: false,
    bodyLimit: MAX_BODY_BYTES,
    genReqId: () => randomUUID(),
    // Never take a request id from the caller: it becomes the RequestId of an audit record.
    requestIdHeader: false,
    routerOptions: { ignoreDuplicateSlashes: true, ignoreTrailingSlash: true, maxParamLength: 128 },
    return503OnClosing: false,
    // Slow bodies and slow heads (slowloris) are cut after these, per request and per connection.
    requestTimeout: REQUEST_TIMEOUT_MS,
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    maxRequestsPerSocket: 0,
    forceCloseConnections: 'idle',
    clientErrorHandler: answerClientError,
  });

  app.decorateRequest('oms', null as unknown as RequestState);

  // Bodies are read once, raw: the signature's body hash and QueryPayloadRaw both need the exact bytes.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_BODY_BYTES }, (_request, body, done) => done(null, body));

  app.addHook('onRequest', async (request) => {
    request.oms = new RequestState(process.hrtime.bigint(), deps.clock.nowUs());
  });

  app.addHook('onSend', async (request, _reply, payload) => {
    if (typeof payload === 'string') request.oms.responseBytes = Buffer.byteLength(payload);
    else if (Buffer.isBuffer(payload)) request.oms.responseBytes = payload.length;
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    const state = request.oms;
    const status = reply.statusCode;
    const durationUs = Number((process.hrtime.bigint() - state.startNs) / 1000n);
    if (state.callName !== null) {
      deps.metrics.requests.inc({ call: state.callName, status: String(status) });
      deps.metrics.callSeconds.observe({ call: state.callName }, durationUs / 1e6);
    }
    deps.logger.info({ requestId: request.id, method: request.method, url: request.url, status, durationUs, call: state.callName ?? undefined }, 'request');
    if (state.caller !== null && state.callName !== null && !NOT_RECORDED.has(status)) {
      void deps.writer.write(buildSelfRecord(request, status, durationUs, deps));
      deps.metrics.recordQueue.set(deps.writer.backlog);
    }
  });

  app.setErrorHandler((err: FastifyError, _request: FastifyRequest, reply: FastifyReply) => sendOscError(reply, err, deps.logger, deps.metrics));
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).header('content-type', 'application/json');
    void reply.send(JSON.stringify(oscErrorBody('UnknownCall', 'The action is not valid for this web service.', request.id)));
  });

  registerHealthRoutes(app, { readiness: deps.readiness, metrics: deps.metrics });
  registerOscApiRoutes(app, deps);
  registerIngestRoutes(app, {
    ...deps.ingest,
    logger: deps.logger,
    metrics: deps.metrics,
    sendError: (reply, err) => sendOscError(reply, err, deps.logger, deps.metrics),
  });
  return app;
}

/** The record of a call OMS answered itself (ReadApiLogs), built after its last byte left. */
function buildSelfRecord(request: FastifyRequest, status: number, durationUs: number, deps: HttpServerDeps): LogRecord {
  const state = request.oms;
  const caller = state.caller!;
  const raw = request.raw;
  const body = Buffer.isBuffer(request.body) ? request.body : undefined;
  const userAgent = request.headers['user-agent'];
  return {
    AccountId: caller.accountId,
    CallDuration: durationUs,
    QueryAccessKey: caller.accessKeyId,
    QueryApiName: 'oapi',
    QueryApiVersion: deps.apiVersion,
    QueryCallName: state.callName!,
    QueryDateUs: state.startUs,
    QueryHeaderRaw: formatHeaderRaw(raw.rawHeaders),
    QueryHeaderSize: measureHeaderBytes(raw.method ?? 'POST', raw.url ?? '/', raw.httpVersion, raw.rawHeaders),
    QueryIpAddress: deps.clientIp(raw.socket.remoteAddress, request.headers['x-forwarded-for']),
    QueryPayloadRaw: body === undefined ? '' : deps.maskSecrets(body.toString('utf8')),
    QueryPayloadSize: body?.length ?? 0,
    QueryUserAgent: typeof userAgent === 'string' ? headerText(userAgent) : '',
    RequestId: request.id,
    ResponseSize: state.responseBytes,
    ResponseStatusCode: status,
  };
}
