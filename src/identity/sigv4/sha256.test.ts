import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { HmacSha256Key, sha256Hex } from './sha256.js';

// Any UTF-16 code unit, lone surrogates included: text is hashed as its UTF-8 bytes, as createHmac does.
const UTF16_UNIT = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));

describe('HmacSha256Key', () => {
  it('gives the RFC 4231 HMAC-SHA256 test vectors', () => {
    const cases: [Buffer, Buffer, string][] = [
      [Buffer.alloc(20, 0x0b), Buffer.from('Hi There'), 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7'],
      [Buffer.from('Jefe'), Buffer.from('what do ya want for nothing?'), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'],
      [Buffer.alloc(20, 0xaa), Buffer.alloc(50, 0xdd), '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe'],
      // A key longer than the 64-byte block is hashed first.
      [Buffer.alloc(131, 0xaa), Buffer.from('Test Using Larger Than Block-Size Key - Hash Key First'), '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54'],
    ];
    for (const [key, message, hex] of cases) {
      assert.equal(new HmacSha256Key(key).digest(message).toString('hex'), hex);
      // The same message as text, where it is text.
      if (message.every((byte) => byte < 0x80)) assert.equal(new HmacSha256Key(key).digest(message.toString('ascii')).toString('hex'), hex);
    }
  });

  it('equals createHmac for any key and any text (lone surrogates too) or bytes, again and again with one key', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: UTF16_UNIT, maxLength: 100 }), fc.uint8Array({ maxLength: 300 })), { minLength: 1, maxLength: 4 }), (key, messages) => {
        const hmac = new HmacSha256Key(key);
        for (const message of messages) {
          assert.deepEqual(hmac.digest(message), createHmac('sha256', key).update(message).digest());
        }
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('sha256Hex', () => {
  it('equals createHash for any text (lone surrogates too) or bytes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: UTF16_UNIT, maxLength: 200 }), fc.uint8Array({ maxLength: 300 })), (data) => {
        assert.equal(sha256Hex(data), createHash('sha256').update(data).digest('hex'));
      }),
      { numRuns: 2_000 },
    );
  });
});
