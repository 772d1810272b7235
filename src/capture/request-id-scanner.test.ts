import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RequestIdScanner } from './request-id-scanner.js';

function scan(text: string, cuts: number[] = []): string | undefined {
  const bytes = Buffer.from(text);
  const scanner = new RequestIdScanner();
  let from = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    scanner.push(bytes.subarray(from, Math.max(from, Math.min(cut, bytes.length))));
    from = Math.max(from, Math.min(cut, bytes.length));
  }
  scanner.push(bytes.subarray(from));
  return scanner.requestId;
}

const ID = '0475ca1e-d0c5-441d-812a-da55a4175157';

describe('RequestIdScanner', () => {
  const table: Array<[string, string, string | undefined]> = [
    ['a success body', `{"ResponseContext":{"RequestId":"${ID}"}}`, ID],
    ['an error body, ResponseContext last', `{"Errors":[{"Code":"4045","Type":"InvalidParameterValue","Details":""}],"ResponseContext":{"RequestId":"${ID}"}}`, ID],
    ['whitespace everywhere', ` {\n "ResponseContext" : {\t"RequestId" :\r\n "${ID}" } }`, ID],
    ['a RequestId deeper down is not the answer\'s', `{"Logs":[{"RequestId":"other"}],"Nested":{"ResponseContext":{"RequestId":"deep"}},"ResponseContext":{"RequestId":"${ID}"}}`, ID],
    ['only a deep RequestId', `{"Logs":[{"RequestId":"other","ResponseContext":{"RequestId":"x"}}]}`, undefined],
    ['a string value that looks like the key', `{"Description":"\\"ResponseContext\\":{\\"RequestId\\":\\"fake\\"}","ResponseContext":{"RequestId":"${ID}"}}`, ID],
    ['a key named RequestId outside ResponseContext', `{"RequestId":"top","ResponseContext":{"Other":1}}`, undefined],
    ['escapes in the id', `{"ResponseContext":{"RequestId":"a\\u0062c"}}`, 'abc'],
    ['no ResponseContext', '{"Vms":[]}', undefined],
    ['an empty ResponseContext', '{"ResponseContext":{}}', undefined],
    ['not JSON', '<html>502 Bad Gateway</html>', undefined],
    ['truncated before the id ends', `{"ResponseContext":{"RequestId":"${ID.slice(0, 10)}`, undefined],
    ['invalid JSON after the id', `{"ResponseContext":{"RequestId":"${ID}"},`, ID],
    ['an id over 128 bytes', `{"ResponseContext":{"RequestId":"${'x'.repeat(200)}"}}`, undefined],
    ['a non-string RequestId', '{"ResponseContext":{"RequestId":42}}', undefined],
  ];
  for (const [name, body, expected] of table) {
    it(`${name}: ${expected === undefined ? 'none' : expected}`, () => {
      assert.equal(scan(body), expected);
    });
  }

  it('finds the same id however the answer is cut into chunks', () => {
    const arbitraryBody = fc.record({
      before: fc.dictionary(fc.string({ maxLength: 8 }).filter((k) => k !== 'ResponseContext'), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }),
      id: fc.string({ minLength: 1, maxLength: 60 }),
      after: fc.dictionary(fc.string({ maxLength: 8 }).filter((k) => k !== 'ResponseContext'), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }),
    });
    fc.assert(
      fc.property(arbitraryBody, fc.array(fc.nat({ max: 400 }), { maxLength: 12 }), ({ before, id, after }, cuts) => {
        const body = JSON.stringify({ ...before, ResponseContext: { RequestId: id }, ...after });
        const expected = Buffer.byteLength(JSON.stringify(id)) - 2 <= 128 ? id : undefined;
        assert.equal(scan(body, cuts), expected);
      }),
      { numRuns: 300 },
    );
  });
});
