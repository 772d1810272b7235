import * as nodeCrypto from 'node:crypto';
import { createHash, createHmac, type BinaryLike } from 'node:crypto';

/**
 * SHA-256 and HMAC-SHA256 for the signature check that runs on every call, without the native object
 * that `createHash` and `createHmac` build per message: under gateway load each such object cost about
 * 30 µs, more than the rest of the check (BENCHMARKS.md, "Where a gateway call's CPU goes").
 * crypto.hash (Node 20.12 and later) hashes in one call; where it is missing, createHash and
 * createHmac do the work.
 */
const oneShotHash: ((algorithm: string, data: BinaryLike, encoding: 'hex' | 'binary') => string) | undefined =
  typeof nodeCrypto.hash === 'function' ? nodeCrypto.hash : undefined;

/** SHA-256 of UTF-8 text or bytes, as lowercase hex. */
export function sha256Hex(data: string | Uint8Array): string {
  return oneShotHash === undefined ? createHash('sha256').update(data).digest('hex') : oneShotHash('sha256', data, 'hex');
}

const BLOCK_BYTES = 64;
const DIGEST_BYTES = 32;

/**
 * HMAC-SHA256 (RFC 2104) with the key's inner and outer pads computed once:
 * H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ message)). Checked against createHmac (RFC 4231 vectors and a
 * property test) in sha256.test.ts.
 */
export class HmacSha256Key {
  /** The key as given, for callers that need its bytes (the signing key of SigV4 is itself an output). */
  readonly key: Buffer;
  readonly #innerPad: Buffer;
  readonly #outerPad: Buffer;

  constructor(key: Uint8Array) {
    this.key = Buffer.from(key);
    // RFC 2104 section 2: a key longer than the block is hashed first, a shorter one padded with zeros.
    const block = Buffer.alloc(BLOCK_BYTES);
    if (this.key.length > BLOCK_BYTES) createHash('sha256').update(this.key).digest().copy(block);
    else this.key.copy(block);
    this.#innerPad = Buffer.allocUnsafe(BLOCK_BYTES);
    this.#outerPad = Buffer.allocUnsafe(BLOCK_BYTES);
    for (let i = 0; i < BLOCK_BYTES; i++) {
      this.#innerPad[i] = (block[i] as number) ^ 0x36;
      this.#outerPad[i] = (block[i] as number) ^ 0x5c;
    }
  }

  /** The 32-byte HMAC of `message` (UTF-8 when it is text). */
  digest(message: string | Uint8Array): Buffer {
    if (oneShotHash === undefined) return createHmac('sha256', this.key).update(message).digest();
    const length = typeof message === 'string' ? Buffer.byteLength(message, 'utf8') : message.length;
    const inner = Buffer.allocUnsafe(BLOCK_BYTES + length);
    this.#innerPad.copy(inner, 0);
    if (typeof message === 'string') inner.write(message, BLOCK_BYTES, 'utf8');
    else inner.set(message, BLOCK_BYTES);
    const outer = Buffer.allocUnsafe(BLOCK_BYTES + DIGEST_BYTES);
    this.#outerPad.copy(outer, 0);
    // The digests travel as 'binary' (latin1) text, one character a byte: crypto.hash gives a Buffer at about
    // three times the cost of a string.
    outer.write(oneShotHash('sha256', inner, 'binary'), BLOCK_BYTES, 'latin1');
    return Buffer.from(oneShotHash('sha256', outer, 'binary'), 'latin1');
  }
}
