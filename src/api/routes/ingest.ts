import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ingestBatch, type BearerVerifier, type IngestDeps, type IngestFormat } from '../../capture/index.js';
import { OmsError } from '../../domain/index.js';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';

/**
 * POST /oms/v1/ingest (SPEC section 8). Checks run before a byte of the body is read, cheapest first:
 * enabled (404), bearer token (401), Content-Type and Content-Encoding (400), room for one more batch
 * (429); then the body is read with its size limit (413), gunzipped with the same limit, and handed to
 * the ingest use case, whose answer is sent only once the accepted records are durable.
 */
export const INGEST_PATH = '/oms/v1/ingest';

export interface IngestRouteDeps {
  /** undefined: no token is configured and ingest is disabled. */
  verifyToken: BearerVerifier | undefined;
  maxBodyBytes: number;
  maxBatches: number;
  use: IngestDeps;
  logger: Logger;
  metrics: Metrics;
  sendError: (reply: FastifyReply, err: unknown) => FastifyReply;
}

const gunzipAsync = promisify(gunzip);
const EMPTY = Buffer.alloc(0);

// Media types shippers use for newline-delimited JSON: Fluent Bit `json_lines` and Vector's
// newline_delimited framing send application/x-ndjson; the others are its registered and common aliases.
const NDJSON_TYPES: ReadonlySet<string> = new Set(['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonlines', 'application/jsonlines']);
const JSON_TYPES: ReadonlySet<string> = new Set(['application/json']);

function formatOf(contentType: string | undefined): IngestFormat {
  const [type = '', ...params] = (contentType ?? '').split(';');
  const essence = type.trim().toLowerCase();
  for (const param of params) {
    const [name = '', value = ''] = param.split('=');
    if (name.trim().toLowerCase() === 'charset' && !['utf-8', 'utf8'].includes(value.trim().replace(/"/g, '').toLowerCase())) {
      throw new OmsError('InvalidParameterValue', 'The body must be UTF-8: the charset of the Content-Type is not utf-8.');
    }
  }
  if (NDJSON_TYPES.has(essence)) return 'ndjson';
  if (JSON_TYPES.has(essence)) return 'json-array';
  throw new OmsError('InvalidParameterValue', 'The Content-Type must be application/x-ndjson (one Log record per line) or application/json (a JSON array of Log records).');
}

function isGzip(contentEncoding: string | undefined): boolean {
  const encoding = (contentEncoding ?? '').trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') return false;
  if (encoding === 'gzip' || encoding === 'x-gzip') return true;
  throw new OmsError('InvalidParameterValue', 'The Content-Encoding must be gzip or none.');
}

/** What the checks before the body learnt, and the batch slot this request holds. */
interface Admission {
  format: IngestFormat;
  gzip: boolean;
  /** Released when both the answer is closed and the handler is done: whichever comes last. */
  holds: number;
  released: boolean;
  release: () => void;
}

async function gunzipBody(raw: Buffer, maxBodyBytes: number): Promise<Buffer> {
  try {
    return await gunzipAsync(raw, { maxOutputLength: maxBodyBytes });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new OmsError('RequestTooLarge', `The request body is larger than ${maxBodyBytes} bytes once gunzipped; nothing was stored.`);
    }
    throw new OmsError('InvalidParameterValue', 'The request body is not valid gzip data; nothing was stored.');
  }
}

export function registerIngestRoutes(app: FastifyInstance, deps: IngestRouteDeps): void {
  const admissions = new WeakMap<FastifyRequest, Admission>();
  let inFlight = 0;

  const admit = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (deps.verifyToken === undefined) {
      throw new OmsError('UnknownCall', 'Ingest is not enabled on this server.');
    }
    const check = deps.verifyToken(request.headers.authorization);
    if (check !== 'ok') {
      // RFC 6750 section 3: tell the caller which scheme is expected, and whether its token was refused.
      reply.header('www-authenticate', check === 'missing' ? 'Bearer realm="oms"' : 'Bearer realm="oms", error="invalid_token"');
      throw new OmsError('AuthenticationFailed', 'A valid ingest bearer token is required.', {
        cause: check === 'missing' ? 'no bearer token' : 'wrong bearer token',
      });
    }
    const format = formatOf(request.headers['content-type']);
    const gzip = isGzip(request.headers['content-encoding']);
    if (inFlight >= deps.maxBatches) {
      throw new OmsError('Throttled', `${deps.maxBatches} ingest batches are already being handled; send this one again shortly.`, { retryAfterSec: 1 });
    }
    inFlight++;
    deps.metrics.ingestInFlight.set(inFlight);
    const admission: Admission = {
      format,
      gzip,
      holds: 1,
      released: false,
      release: () => {
        if (admission.released || --admission.holds > 0) return;
        admission.released = true;
        inFlight--;
        deps.metrics.ingestInFlight.set(inFlight);
      },
    };
    admissions.set(request, admission);
    // 'close' fires once on every answer, sent or aborted.
    reply.raw.once('close', admission.release);
  };

  const handle = async (request: FastifyRequest, reply: FastifyReply): Promise<string> => {
    const admission = admissions.get(request);
    if (admission === undefined) throw new OmsError('Internal', 'ingest request without admission');
    admission.holds++;
    try {
      const raw = Buffer.isBuffer(request.body) ? request.body : EMPTY;
      const body = admission.gzip ? await gunzipBody(raw, deps.maxBodyBytes) : raw;
      const report = await ingestBatch(body, admission.format, deps.use);
      deps.metrics.ingestRecords.inc({ outcome: 'accepted' }, report.Accepted);
      deps.metrics.ingestRecords.inc({ outcome: 'duplicate' }, report.Duplicates);
      deps.metrics.ingestRecords.inc({ outcome: 'rejected' }, report.Rejected.length);
      deps.logger.info(
        { requestId: request.id, accepted: report.Accepted, duplicates: report.Duplicates, rejected: report.Rejected.length },
        'ingest batch',
      );
      reply.header('content-type', 'application/json');
      return JSON.stringify(report);
    } finally {
      admission.release();
    }
  };

  app.post(INGEST_PATH, {
    bodyLimit: deps.maxBodyBytes,
    onRequest: admit,
    onResponse: async (_request, reply) => {
      deps.metrics.ingestBatches.inc({ status: String(reply.statusCode) });
    },
    errorHandler: (err: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
      if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        // The rest of an oversized body is not worth reading: the connection ends with the answer.
        reply.header('connection', 'close');
        return deps.sendError(reply, new OmsError('RequestTooLarge', `The request body is larger than ${deps.maxBodyBytes} bytes; nothing was stored.`));
      }
      return deps.sendError(reply, err);
    },
    handler: handle,
  });
}
