import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { OmsError, type ErrorKind } from '../domain/oms-error.js';
import { OSC_ERRORS, mapError, oscErrorBody } from './osc-errors.js';

const REQUEST_ID = '0475ca1e-d0c5-441d-712a-da55a4175157';

/** SPEC section 6, row by row: HTTP status, Code, Type. */
const SPEC_TABLE: Record<Exclude<ErrorKind, 'RequestTooLarge'>, [number, string, string]> = {
  UnknownParameter: [400, '3001', 'InvalidParameter'],
  InvalidParameterValue: [400, '4045', 'InvalidParameterValue'],
  InvalidPageToken: [400, '4078', 'InvalidParameterValue'],
  AuthenticationFailed: [401, '1', 'AccessDenied'],
  KeyLockedOut: [401, '5', 'AccessDenied'],
  UnknownCall: [404, '12000', 'InvalidAction'],
  Throttled: [429, '10', 'RequestLimitExceeded'],
  Internal: [500, '2000', 'InternalError'],
  StoreUnavailable: [503, '2001', 'ServiceUnavailable'],
  UpstreamFailed: [502, '2001', 'ServiceUnavailable'],
  UpstreamUnreachable: [503, '2001', 'ServiceUnavailable'],
  UpstreamTimeout: [504, '2001', 'ServiceUnavailable'],
};

const ALL_KINDS = [...Object.keys(SPEC_TABLE), 'RequestTooLarge'] as ErrorKind[];
const BUG_DETAILS = 'An internal error occurred. Quote the RequestId when reporting it.';

function fastifyError(code: string, message: string, statusCode: number): Error {
  return Object.assign(new Error(message), { code, statusCode });
}

function assertBugAnswer(err: unknown, secret?: string): void {
  const mapped = mapError(err, REQUEST_ID);
  assert.equal(mapped.status, 500);
  assert.equal(mapped.isBug, true);
  assert.equal(mapped.retryAfterSec, undefined);
  assert.deepEqual(mapped.body, { Errors: [{ Code: '2000', Type: 'InternalError', Details: BUG_DETAILS }], ResponseContext: { RequestId: REQUEST_ID } });
  if (secret !== undefined) assert.equal(JSON.stringify(mapped.body).includes(secret), false);
}

describe('OSC_ERRORS', () => {
  for (const [kind, [status, code, type]] of Object.entries(SPEC_TABLE)) {
    it(`${kind} is HTTP ${status}, Code ${code}, Type ${type}`, () => {
      assert.deepEqual(OSC_ERRORS[kind as ErrorKind], { status, code, type });
    });
  }

  it('answers a body over the limit as 413 with the 4045 code and type', () => {
    assert.deepEqual(OSC_ERRORS.RequestTooLarge, { status: 413, code: '4045', type: 'InvalidParameterValue' });
  });

  it('has a row for every kind and no other', () => {
    assert.deepEqual(Object.keys(OSC_ERRORS).sort(), [...ALL_KINDS].sort());
  });

  it('uses string codes, as the Errors schema of the reference says', () => {
    for (const row of Object.values(OSC_ERRORS)) {
      assert.equal(typeof row.code, 'string');
      assert.match(row.code, /^\d+$/);
    }
  });
});

describe('oscErrorBody', () => {
  it('has the OUTSCALE shape, keys in order', () => {
    assert.equal(
      JSON.stringify(oscErrorBody('InvalidPageToken', 'The NextPageToken is not valid for this request.', REQUEST_ID)),
      `{"Errors":[{"Code":"4078","Type":"InvalidParameterValue","Details":"The NextPageToken is not valid for this request."}],"ResponseContext":{"RequestId":"${REQUEST_ID}"}}`,
    );
  });
});

describe('mapError', () => {
  describe('an OmsError of each kind', () => {
    for (const kind of ALL_KINDS) {
      it(`${kind} gets its status, code, type and its own details`, () => {
        const row = OSC_ERRORS[kind];
        const mapped = mapError(new OmsError(kind, `details of ${kind}`), REQUEST_ID);
        assert.equal(mapped.status, row.status);
        assert.deepEqual(mapped.body, { Errors: [{ Code: row.code, Type: row.type, Details: `details of ${kind}` }], ResponseContext: { RequestId: REQUEST_ID } });
        assert.equal(mapped.retryAfterSec, undefined);
        assert.equal(mapped.isBug, kind === 'Internal');
      });
    }
  });

  it('passes Retry-After on for a locked key and for throttling', () => {
    assert.equal(mapError(new OmsError('KeyLockedOut', 'locked', { retryAfterSec: 60 }), REQUEST_ID).retryAfterSec, 60);
    assert.equal(mapError(new OmsError('Throttled', 'slow down', { retryAfterSec: 2 }), REQUEST_ID).retryAfterSec, 2);
  });

  it('does not show the cause of an OmsError', () => {
    const mapped = mapError(new OmsError('StoreUnavailable', 'The store cannot be reached.', { cause: new Error('ECONNREFUSED 10.0.0.7:9000') }), REQUEST_ID);
    assert.equal(mapped.status, 503);
    assert.equal(JSON.stringify(mapped.body).includes('10.0.0.7'), false);
  });

  it('answers a Fastify body-too-large error with 413 and 4045', () => {
    const mapped = mapError(fastifyError('FST_ERR_CTP_BODY_TOO_LARGE', 'Request body is too large', 413), REQUEST_ID);
    assert.equal(mapped.status, 413);
    assert.equal(mapped.isBug, false);
    assert.deepEqual(mapped.body, {
      Errors: [{ Code: '4045', Type: 'InvalidParameterValue', Details: 'The request body is larger than 1048576 bytes.' }],
      ResponseContext: { RequestId: REQUEST_ID },
    });
  });

  describe('other framework errors caused by the request are 400 with 4045', () => {
    const codes = ['FST_ERR_CTP_INVALID_CONTENT_LENGTH', 'FST_ERR_CTP_EMPTY_JSON_BODY', 'FST_ERR_CTP_INVALID_MEDIA_TYPE', 'FST_ERR_CTP_INVALID_TYPE', 'FST_ERR_BAD_URL', 'FST_ERR_ASYNC_CONSTRAINT'];
    for (const code of codes) {
      it(code, () => {
        const mapped = mapError(fastifyError(code, `framework says ${code}`, 400), REQUEST_ID);
        assert.equal(mapped.status, 400);
        assert.equal(mapped.isBug, false);
        assert.equal(mapped.body.Errors[0]?.Code, '4045');
        assert.equal(mapped.body.Errors[0]?.Type, 'InvalidParameterValue');
        assert.equal(mapped.body.Errors[0]?.Details.includes('framework says'), false);
      });
    }
  });

  it('answers an unknown Error with 500/2000 and never its message', () => {
    const secret = 'SQLITE_CORRUPT at /var/lib/oms/logs.db: password=hunter2';
    assertBugAnswer(new Error(secret), secret);
    assertBugAnswer(new TypeError(secret), secret);
    assertBugAnswer(Object.assign(new Error(secret), { statusCode: 400 }), secret);
  });

  it('answers a framework-looking error with an unknown code as a bug', () => {
    assertBugAnswer(fastifyError('FST_ERR_SOMETHING_NEW', 'framework internals', 400), 'framework internals');
    assertBugAnswer(fastifyError('ENOENT', '/etc/oms/secret', 500), '/etc/oms/secret');
  });

  it('answers codes that name Object properties as a bug', () => {
    for (const code of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      assertBugAnswer(fastifyError(code, `code ${code}`, 400), `code ${code}`);
    }
  });

  it('answers anything thrown that is not an Error as a bug', () => {
    for (const thrown of [undefined, null, 'a string with a secret', 42, Symbol('s'), { message: 'object with a secret' }, [1, 2]]) {
      assertBugAnswer(thrown, 'secret');
    }
  });

  it('cannot throw itself, even for hostile values', () => {
    const throwingCode = Object.defineProperty(new Error('getter'), 'code', {
      get() {
        throw new Error('code getter exploded');
      },
    });
    assertBugAnswer(throwingCode, 'exploded');
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    assertBugAnswer(revoked.proxy, 'revoked');
    const trap = new Proxy(
      {},
      {
        get() {
          throw new Error('trap');
        },
        getPrototypeOf() {
          throw new Error('trap');
        },
      },
    );
    assertBugAnswer(trap, 'trap');
  });

  it('always answers a well-formed OUTSCALE body for any thrown value', () => {
    fc.assert(
      fc.property(fc.anything(), fc.uuid(), (thrown, requestId) => {
        const mapped = mapError(thrown, requestId);
        assert.ok([400, 401, 404, 413, 429, 500, 503].includes(mapped.status));
        assert.equal(mapped.body.Errors.length, 1);
        assert.equal(mapped.body.ResponseContext.RequestId, requestId);
        const [error] = mapped.body.Errors;
        assert.ok(error !== undefined && typeof error.Code === 'string' && typeof error.Type === 'string' && typeof error.Details === 'string');
      }),
      { numRuns: 500 },
    );
  });
});
