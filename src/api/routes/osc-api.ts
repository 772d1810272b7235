import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isOutscaleCallName, OmsError } from '../../domain/index.js';
import type { Clock } from '../../domain/index.js';
import type { Authenticator } from '../../identity/index.js';
import { encodeReadApiLogsAnswer, parseReadApiLogsRequest, readApiLogs, type ReadApiLogsDeps } from '../../query/index.js';
import type { RecordSink } from '../../capture/index.js';

export interface OscApiDeps {
  authenticator: Authenticator;
  readApiLogs: ReadApiLogsDeps;
  writer: RecordSink;
  clock: Clock;
}

/** `x-osc-target: OutscaleService.<Call>` (the form of the OUTSCALE SDKs that post to `/`). */
const TARGET_PREFIX = 'OutscaleService.';
const CALL_NAME = /^[A-Za-z]{1,64}$/;
/** The OUTSCALE-style calls OMS answers itself; with a gateway, every other call goes upstream. */
export const OMS_CALLS: ReadonlySet<string> = new Set(['ReadApiLogs']);
const VERSIONS: ReadonlySet<string> = new Set(['v1', 'latest']);

// A strict decoder: a body that is not UTF-8 is refused instead of being repaired with U+FFFD.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

interface CallParams {
  version?: string;
  call?: string;
}

function resolveCallName(request: FastifyRequest<{ Params: CallParams }>): string {
  const { version, call } = request.params;
  if (version !== undefined && !VERSIONS.has(version)) {
    throw new OmsError('UnknownCall', 'The API version in the path is not valid: use /api/v1/ or /api/latest/.');
  }
  if (call !== undefined) return call;
  const target = request.headers['x-osc-target'];
  if (typeof target === 'string' && target.startsWith(TARGET_PREFIX)) return target.slice(TARGET_PREFIX.length);
  throw new OmsError('UnknownCall', 'No call name was given: post to /api/v1/<Call> or send x-osc-target: OutscaleService.<Call>.');
}

function decodeJsonBody(body: unknown): unknown {
  const raw = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
  if (raw.length === 0) throw new OmsError('InvalidParameterValue', 'The request body must be a JSON object.');
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new OmsError('InvalidParameterValue', 'The request body is not valid UTF-8.');
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new OmsError('InvalidParameterValue', 'The request body is not valid JSON.');
  }
}

/**
 * The OUTSCALE API surface: `/api/v1/<Call>`, `/api/latest/<Call>`, and `/` or `/api/<version>/` with
 * x-osc-target. Order of checks: call name (404), signature (401), parameters (400), then the call.
 */
export function registerOscApiRoutes(app: FastifyInstance, deps: OscApiDeps): void {
  const handler = async (request: FastifyRequest<{ Params: CallParams }>, reply: FastifyReply): Promise<Buffer> => {
    const callName = resolveCallName(request);
    if (!CALL_NAME.test(callName) || !OMS_CALLS.has(callName)) {
      const known = CALL_NAME.test(callName) && isOutscaleCallName(callName);
      throw new OmsError(
        'UnknownCall',
        known
          ? `The call ${callName} is not served by this endpoint.`
          : 'The action is not valid for this web service.',
      );
    }
    request.oms.callName = callName;

    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const caller = await deps.authenticator.authenticate({
      method: request.method,
      path: request.raw.url ?? '/',
      headers: request.headers,
      body,
    });
    request.oms.caller = caller;

    // The call will be recorded; if its record could not be queued, refuse it rather than lose it.
    if (!deps.writer.canAccept()) {
      throw new OmsError('StoreUnavailable', 'The log store is not accepting records; retry later.', { retryAfterSec: 1 });
    }

    const parsed = parseReadApiLogsRequest(decodeJsonBody(body));
    const responseContext = { RequestId: request.id };
    reply.header('content-type', 'application/json');
    if (parsed.dryRun) return Buffer.from(JSON.stringify({ ResponseContext: responseContext }));
    return encodeReadApiLogsAnswer(request.id, await readApiLogs(caller.accountId, parsed, deps.readApiLogs));
  };

  for (const path of ['/api/:version/:call', '/api/:version', '/']) {
    app.post(path, handler);
  }
}
