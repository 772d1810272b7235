import { BACKSLASH, CLOSE_ARRAY, CLOSE_OBJECT, COLON, OPEN_ARRAY, OPEN_OBJECT, QUOTE } from './json-bytes.js';

/**
 * Finds `ResponseContext.RequestId` in a JSON answer as it streams past, chunk by chunk, without
 * holding the answer: the state is a few numbers and at most two short strings, whatever the answer's
 * size. Only the RequestId member of the top-level object's ResponseContext counts (a RequestId deeper
 * down, say in a list of logs, is someone else's). OUTSCALE success bodies start with ResponseContext
 * and error bodies end with it, so both ends are covered; once found, the rest is not looked at.
 *
 * It is a tolerant tokenizer, not a validator: an answer that is not JSON simply yields no RequestId.
 */


/** Keys and values longer than this are not the ones we look for, and are not kept. */
const MAX_KEPT_BYTES = 128;

const RESPONSE_CONTEXT = 'ResponseContext';
const REQUEST_ID = 'RequestId';

export class RequestIdScanner {
  #depth = 0;
  #inString = false;
  #escaped = false;
  /** Bytes of the string being read, when it may matter (kept only up to MAX_KEPT_BYTES). */
  #kept: number[] | undefined;
  #keptOverflow = false;
  /** The last complete string, waiting to learn whether a ':' makes it a key. */
  #lastString: string | undefined;
  /** The key whose value comes next, with the depth it was read at. */
  #key: string | undefined;
  #keyDepth = 0;
  /** Depth inside the top-level ResponseContext object; 0 outside it. */
  #contextDepth = 0;
  #capturing = false;
  #result: string | undefined;
  #done = false;

  get requestId(): string | undefined {
    return this.#result;
  }

  push(chunk: Uint8Array): void {
    if (this.#done) return;
    const length = chunk.length;
    let i = 0;
    while (i < length) {
      if (this.#inString) {
        if (this.#kept === undefined && !this.#escaped) {
          // A string we do not keep: jump to the next quote or backslash.
          let next = i;
          while (next < length) {
            const c = chunk[next] as number;
            if (c === QUOTE || c === BACKSLASH) break;
            next++;
          }
          i = next;
          if (i >= length) return;
        }
        const c = chunk[i] as number;
        if (this.#escaped) {
          this.#escaped = false;
          this.#keep(c);
        } else if (c === BACKSLASH) {
          this.#escaped = true;
          this.#keep(c);
        } else if (c === QUOTE) {
          this.#inString = false;
          this.#endString();
          if (this.#done) return;
        } else {
          this.#keep(c);
        }
        i++;
        continue;
      }
      const c = chunk[i] as number;
      switch (c) {
        case QUOTE:
          this.#inString = true;
          this.#keptOverflow = false;
          // Keys at the two depths that matter are kept, and the RequestId value we wait for.
          this.#kept = this.#capturing || (this.#key === undefined && (this.#depth === 1 || (this.#contextDepth > 0 && this.#depth === this.#contextDepth))) ? [] : undefined;
          break;
        case COLON:
          if (this.#lastString !== undefined) {
            this.#key = this.#lastString;
            this.#keyDepth = this.#depth;
            this.#capturing = this.#contextDepth > 0 && this.#depth === this.#contextDepth && this.#key === REQUEST_ID;
          }
          this.#lastString = undefined;
          break;
        case OPEN_OBJECT:
        case OPEN_ARRAY:
          this.#depth++;
          if (c === OPEN_OBJECT && this.#key === RESPONSE_CONTEXT && this.#keyDepth === 1 && this.#depth === 2) this.#contextDepth = 2;
          this.#key = undefined;
          this.#capturing = false;
          this.#lastString = undefined;
          break;
        case CLOSE_OBJECT:
        case CLOSE_ARRAY:
          if (this.#contextDepth > 0 && this.#depth === this.#contextDepth) this.#contextDepth = 0;
          this.#depth--;
          this.#key = undefined;
          this.#capturing = false;
          this.#lastString = undefined;
          if (this.#depth <= 0) {
            this.#done = true;
            return;
          }
          break;
        case 0x2c: // ','
          this.#key = undefined;
          this.#capturing = false;
          this.#lastString = undefined;
          break;
        default:
          // Whitespace, numbers, literals: a value that is not a string ends the key's turn at ','.
          break;
      }
      i++;
    }
  }

  #keep(c: number): void {
    const kept = this.#kept;
    if (kept === undefined) return;
    if (kept.length < MAX_KEPT_BYTES) kept.push(c);
    else this.#keptOverflow = true;
  }

  #endString(): void {
    const kept = this.#kept;
    this.#kept = undefined;
    if (kept === undefined || this.#keptOverflow) {
      this.#lastString = undefined;
      if (this.#capturing) this.#capturing = false;
      return;
    }
    const text = decodeJsonString(kept);
    if (this.#capturing) {
      this.#capturing = false;
      this.#key = undefined;
      if (text !== undefined && text.length > 0) {
        this.#result = text;
        this.#done = true;
      }
      return;
    }
    // A string read after a key's ':' is that key's value, not a new key.
    this.#lastString = this.#key === undefined ? text : undefined;
  }
}

function decodeJsonString(bytes: number[]): string | undefined {
  const raw = Buffer.from(bytes).toString('utf8');
  if (!raw.includes('\\')) return raw;
  try {
    const value: unknown = JSON.parse(`"${raw}"`);
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}
