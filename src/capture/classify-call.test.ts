import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { classifyCall, normaliseCallPath, type CallClass, type ClassifyCallInput } from './classify-call.js';

const API_HOST = 'api.eu-west-2.outscale.com';
const OSC4 = 'OSC4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/eu-west-2/api/osc4_request, SignedHeaders=host;x-osc-date, Signature=abc';
const AWS4_API = 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/eu-west-2/api/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc';
const aws4For = (service: string): string =>
  `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/eu-west-2/${service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc`;
const FORM = 'application/x-www-form-urlencoded; charset=utf-8';

const oapi = (callName: string): CallClass => ({ kind: 'oapi', callName });
const AWS: CallClass = { kind: 'not-logged', reason: 'aws-compliant' };
const OOS: CallClass = { kind: 'not-logged', reason: 'object-storage' };
const NONE: CallClass = { kind: 'not-logged', reason: 'not-an-api-call' };

interface Case {
  name: string;
  method?: string;
  path: string;
  headers?: Record<string, string | string[] | undefined>;
  host?: string;
  formBody?: string;
  expected: CallClass;
}

const CASES: Case[] = [
  // The OUTSCALE API, by path.
  { name: 'POST /api/v1/<Call>', path: '/api/v1/ReadVms', expected: oapi('ReadVms') },
  { name: 'POST /api/latest/<Call>', path: '/api/latest/CreateVolume', expected: oapi('CreateVolume') },
  { name: 'the doubled leading slash osc-cli sends', path: '//api/latest/ReadApiLogs', expected: oapi('ReadApiLogs') },
  { name: 'repeated slashes anywhere', path: '/api///v1//ReadVms', expected: oapi('ReadVms') },
  { name: 'a trailing slash', path: '/api/v1/ReadVms/', expected: oapi('ReadVms') },
  { name: 'a query string is not part of the path', path: '/api/v1/ReadVms?foo=bar', expected: oapi('ReadVms') },
  { name: 'a percent-encoded unreserved character', path: '/api/v1/Read%56ms', expected: oapi('ReadVms') },
  { name: 'dot segments are resolved', path: '/api/v2/../v1/./ReadVms', expected: oapi('ReadVms') },
  { name: 'the absolute form', path: 'http://api.eu-west-2.outscale.com/api/v1/ReadVms', expected: oapi('ReadVms') },
  { name: 'an unknown but well-formed name is still a call', path: '/api/v1/NoSuchCall', expected: oapi('NoSuchCall') },
  { name: 'digits after the first letter', path: '/api/v1/Call2Go', expected: oapi('Call2Go') },
  { name: 'a 128-character name', path: `/api/v1/A${'b'.repeat(127)}`, expected: oapi(`A${'b'.repeat(127)}`) },
  // The OUTSCALE API, by x-osc-target.
  { name: 'POST / with x-osc-target', path: '/', headers: { 'x-osc-target': 'OutscaleService.ReadVms' }, expected: oapi('ReadVms') },
  { name: 'POST /api/v1/ with x-osc-target', path: '/api/v1/', headers: { 'x-osc-target': 'OutscaleService.ReadApiLogs' }, expected: oapi('ReadApiLogs') },
  { name: 'POST /api/latest with x-osc-target', path: '/api/latest', headers: { 'x-osc-target': 'OutscaleService.ReadTags' }, expected: oapi('ReadTags') },
  { name: 'POST // with x-osc-target', path: '//', headers: { 'x-osc-target': 'OutscaleService.ReadVms' }, expected: oapi('ReadVms') },
  { name: 'the path wins over x-osc-target', path: '/api/v1/ReadVms', headers: { 'x-osc-target': 'OutscaleService.DeleteVms' }, expected: oapi('ReadVms') },
  { name: 'a signed OSC4 call', path: '/api/v1/ReadVms', headers: { authorization: OSC4 }, expected: oapi('ReadVms') },
  { name: 'an AWS4 call scoped to api', path: '/api/v1/ReadVms', headers: { authorization: AWS4_API }, expected: oapi('ReadVms') },
  // Stray AWS markers on an OUTSCALE API call do not hide it.
  { name: 'an Action parameter on /api/v1/<Call>', path: '/api/v1/ReadVms?Action=DescribeInstances', expected: oapi('ReadVms') },
  { name: 'x-amz-target on /api/v1/<Call>', path: '/api/v1/ReadVms', headers: { 'x-amz-target': 'TrentService.Encrypt' }, expected: oapi('ReadVms') },
  { name: 'an FCU host on /api/v1/<Call>', path: '/api/v1/ReadVms', host: 'fcu.eu-west-2.outscale.com', expected: oapi('ReadVms') },
  { name: 'an AWS4 ec2 scope on /api/v1/<Call>', path: '/api/v1/ReadVms', headers: { authorization: aws4For('ec2') }, expected: oapi('ReadVms') },
  { name: 'x-osc-target on / with an Action body', path: '/', headers: { 'x-osc-target': 'OutscaleService.ReadVms', 'content-type': FORM }, formBody: 'Action=DescribeInstances', expected: oapi('ReadVms') },
  // Not a call name.
  { name: 'a name with a hyphen', path: '/api/v1/Read-Vms', expected: NONE },
  { name: 'a name starting with a digit', path: '/api/v1/1ReadVms', expected: NONE },
  { name: 'a 129-character name', path: `/api/v1/A${'b'.repeat(128)}`, expected: NONE },
  { name: 'an encoded slash in the name', path: '/api/v1/Read%2FVms', expected: NONE },
  { name: 'x-osc-target with a bad name', path: '/', headers: { 'x-osc-target': 'OutscaleService.Read Vms' }, expected: NONE },
  { name: 'x-osc-target with another prefix', path: '/', headers: { 'x-osc-target': 'OtherService.ReadVms' }, expected: NONE },
  { name: 'x-osc-target on a path that is not a root', path: '/api/v2/', headers: { 'x-osc-target': 'OutscaleService.ReadVms' }, expected: NONE },
  { name: 'another API version', path: '/api/v2/ReadVms', expected: NONE },
  { name: 'a deeper path', path: '/api/v1/ReadVms/extra', expected: NONE },
  { name: 'GET /api/v1/<Call>', method: 'GET', path: '/api/v1/ReadVms', expected: NONE },
  { name: 'GET /', method: 'GET', path: '/', expected: NONE },
  { name: 'GET /favicon.ico', method: 'GET', path: '/favicon.ico', expected: NONE },
  { name: 'POST / alone', path: '/', expected: NONE },
  { name: 'OPTIONS *', method: 'OPTIONS', path: '*', expected: NONE },
  { name: 'an empty target', path: '', expected: NONE },
  // AWS-compliant APIs.
  { name: 'FCU Action in the query', method: 'GET', path: '/?Action=DescribeInstances&Version=2016-11-15', expected: AWS },
  { name: 'Action later in the query', path: '/?Version=2016-11-15&Action=DescribeInstances', expected: AWS },
  { name: 'a percent-encoded Action name', path: '/?%41ction=DescribeInstances', expected: AWS },
  { name: 'FCU Action in a form body', path: '/', headers: { 'content-type': FORM }, formBody: 'Action=DescribeInstances&Version=2016-11-15', expected: AWS },
  { name: 'an Action body that is not a form is ignored', path: '/', headers: { 'content-type': 'application/json' }, formBody: 'Action=DescribeInstances', expected: NONE },
  { name: 'DirectLink x-amz-target', path: '/', host: 'directlink.eu-west-2.outscale.com', headers: { 'x-amz-target': 'OvertureService.DescribeConnections' }, expected: AWS },
  { name: 'OKMS x-amz-target on any host', path: '/', headers: { 'x-amz-target': 'TrentService.ListKeys' }, expected: AWS },
  { name: 'an empty x-amz-target is no marker', path: '/', headers: { 'x-amz-target': '' }, expected: NONE },
  { name: 'an AWS4 scope for eim', path: '/', headers: { authorization: aws4For('eim') }, expected: AWS },
  { name: 'an AWS4 scope for directlink', method: 'POST', path: '/', headers: { authorization: aws4For('directlink') }, expected: AWS },
  { name: 'an AWS4 scope for api alone is not a call', path: '/', headers: { authorization: AWS4_API }, expected: NONE },
  { name: 'the FCU endpoint', path: '/', host: 'fcu.eu-west-2.outscale.com', expected: AWS },
  { name: 'the LBU endpoint, from the Host header with a port', path: '/', headers: { host: 'LBU.us-east-2.outscale.com:443' }, expected: AWS },
  { name: 'the EIM endpoint', path: '/', host: 'eim.cloudgouv-eu-west-1.outscale.com', expected: AWS },
  { name: 'the ICU endpoint', method: 'GET', path: '/', host: 'icu.eu-west-2.outscale.com', expected: AWS },
  { name: 'the OKMS endpoint (kms.)', path: '/', host: 'kms.eu-west-2.outscale.com', expected: AWS },
  { name: 'the OKMS endpoint (okms.)', path: '/', host: 'okms.eu-west-2.outscale.com', expected: AWS },
  { name: 'an absolute-form authority', path: 'https://fcu.eu-west-2.outscale.com/?Version=2016-11-15', expected: AWS },
  // Object Storage.
  { name: 'the OOS endpoint, path style', method: 'PUT', path: '/bucket/key', host: 'oos.eu-west-2.outscale.com', expected: OOS },
  { name: 'an OOS virtual-hosted bucket', method: 'GET', path: '/key', host: 'my-bucket.oos.eu-west-2.outscale.com', expected: OOS },
  { name: 'the former OSU endpoint', method: 'GET', path: '/', host: 'osu.eu-west-2.outscale.com', expected: OOS },
  { name: 'an s3. endpoint', method: 'GET', path: '/bucket', host: 's3.amazonaws.com', expected: OOS },
  { name: 'a bucket named api on OOS', path: '/api/v1/ReadVms?uploads', host: 'oos.eu-west-2.outscale.com', expected: OOS },
  { name: 'an AWS4 scope for s3', method: 'PUT', path: '/bucket/key', headers: { authorization: aws4For('s3') }, expected: OOS },
  { name: 'a presigned s3 URL', method: 'GET', path: '/bucket/key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20240101%2Feu-west-2%2Fs3%2Faws4_request', expected: OOS },
  { name: 'an S3 SigV2 signature', method: 'GET', path: '/bucket/key', headers: { authorization: 'AWS AKIDEXAMPLE:c2lnbmF0dXJl' }, expected: OOS },
  { name: 'the API host is not Object Storage', path: '/api/v1/ReadVms', host: API_HOST, expected: oapi('ReadVms') },
  { name: 'a host label merely containing oos', path: '/api/v1/ReadVms', host: 'foos.example.com', expected: oapi('ReadVms') },
  { name: 'an array-valued header uses its first value', path: '/', headers: { 'x-osc-target': ['OutscaleService.ReadVms', 'OutscaleService.DeleteVms'] }, expected: oapi('ReadVms') },
];

describe('classifyCall', () => {
  it('has a table of at least 30 cases', () => {
    assert.ok(CASES.length >= 30);
  });

  for (const c of CASES) {
    it(`${c.name}: ${c.expected.kind === 'oapi' ? `oapi ${c.expected.callName.slice(0, 24)}` : c.expected.reason}`, () => {
      const input: ClassifyCallInput = { method: c.method ?? 'POST', path: c.path, headers: c.headers ?? {} };
      if (c.host !== undefined) input.host = c.host;
      if (c.formBody !== undefined) input.formBody = c.formBody;
      assert.deepEqual(classifyCall(input), c.expected);
    });
  }

  it('the host argument wins over the Host header', () => {
    const result = classifyCall({ method: 'POST', path: '/', headers: { host: API_HOST }, host: 'fcu.eu-west-2.outscale.com' });
    assert.deepEqual(result, AWS);
  });

  it('never throws and always returns a well-formed class, whatever the input', () => {
    const headerValue = fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 3 }), fc.constant(undefined));
    const markers = fc.constantFrom('host', 'authorization', 'x-osc-target', 'x-amz-target', 'content-type');
    const headers = fc.dictionary(fc.oneof(markers, fc.string({ maxLength: 12 })), headerValue, { maxKeys: 6 });
    const pathPiece = fc.constantFrom('/', '//', '/api', '/v1', '/latest', '/.', '/..', '?', '&', '#', '%', '%2F', '%41', 'Action=', 'X-Amz-Credential=', 'ReadVms', 'http://');
    const path = fc.oneof(fc.string(), fc.array(pathPiece, { maxLength: 10 }).map((p) => p.join('')));
    fc.assert(
      fc.property(
        fc.constantFrom('POST', 'GET', 'PUT', 'post', ''),
        path,
        headers,
        fc.option(fc.string(), { nil: undefined }),
        fc.option(fc.string(), { nil: undefined }),
        (method, p, h, host, formBody) => {
          const input: ClassifyCallInput = { method, path: p, headers: h };
          if (host !== undefined) input.host = host;
          if (formBody !== undefined) input.formBody = formBody;
          const result = classifyCall(input);
          if (result.kind === 'oapi') assert.match(result.callName, /^[A-Za-z][A-Za-z0-9]{0,127}$/);
          else assert.ok(['aws-compliant', 'object-storage', 'not-an-api-call'].includes(result.reason));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('every well-formed name posted to /api/v1/ is that call, stray AWS markers or not', () => {
    const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{0,127}$/);
    fc.assert(
      fc.property(name, fc.constantFrom('v1', 'latest'), fc.boolean(), fc.boolean(), (call, version, action, amzTarget) => {
        const headers: Record<string, string> = { host: API_HOST };
        if (amzTarget) headers['x-amz-target'] = 'TrentService.ListKeys';
        const result = classifyCall({ method: 'POST', path: `/api/${version}/${call}${action ? '?Action=X' : ''}`, headers });
        assert.deepEqual(result, oapi(call));
      }),
    );
  });
});

describe('normaliseCallPath', () => {
  const cases: [string, string][] = [
    ['/', '/'],
    ['//', '/'],
    ['//api/latest/ReadApiLogs', '/api/latest/ReadApiLogs'],
    ['/api/v1/', '/api/v1'],
    ['/a/./b/../c', '/a/c'],
    ['/a/b/..', '/a'],
    ['/../..', '/'],
    ['/%7Euser/%2F', '/~user/%2F'],
    ['*', '*'],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} becomes ${JSON.stringify(expected)}`, () => {
      assert.equal(normaliseCallPath(input), expected);
    });
  }
});
