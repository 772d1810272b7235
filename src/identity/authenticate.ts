import { OmsError } from '../domain/oms-error.js';
import { US_PER_MS, type Clock } from '../domain/time.js';
import type { AccessKeyRecord, CredentialStore } from './credential-store.js';
import type { LockoutTracker } from './lockout.js';
import { parseAuthorization, verifySignature, type ReceivedRequest } from './sigv4/index.js';

/** Who signed a call. An EIM user's key acts for its account. */
export interface Caller {
  accountId: string;
  accessKeyId: string;
  userName?: string;
}

export interface AuthenticatorOptions {
  credentials: CredentialStore;
  lockout: LockoutTracker;
  clock: Clock;
  /** The region clients sign for; a signature scoped to another region is refused. */
  region: string;
  /** How long a key looked up in the credential store is reused before being read again. */
  keyCacheMs?: number;
  maxSkewMs?: number;
}

const DENIED = 'The request signature is not valid, or the access key is unknown or inactive.';
const MAX_CACHED_KEYS = 10_000;

interface CachedKey {
  record: AccessKeyRecord | undefined;
  expiresAtMs: number;
}

/**
 * Authentication of a signed call (SPEC section 5). Every refusal is the same 401/1 from outside, so
 * that a caller cannot tell an unknown key from a wrong secret; the reason goes to the server log only.
 */
export class Authenticator {
  readonly #credentials: CredentialStore;
  readonly #lockout: LockoutTracker;
  readonly #clock: Clock;
  readonly #region: string;
  readonly #keyCacheMs: number;
  readonly #maxSkewMs: number;
  // Short-lived, so that a key deactivated by `oms admin` in another process stops working within seconds.
  readonly #cache = new Map<string, CachedKey>();

  constructor(options: AuthenticatorOptions) {
    this.#credentials = options.credentials;
    this.#lockout = options.lockout;
    this.#clock = options.clock;
    this.#region = options.region;
    this.#keyCacheMs = options.keyCacheMs ?? 5_000;
    this.#maxSkewMs = options.maxSkewMs ?? 300_000;
  }

  async authenticate(request: ReceivedRequest): Promise<Caller> {
    const header = request.headers['authorization'];
    const parsed = parseAuthorization(header);
    if (!parsed.ok) throw new OmsError('AuthenticationFailed', DENIED, { cause: parsed.reason });
    const { accessKeyId, region, service } = parsed.authorization;

    const lockedMs = this.#lockout.lockedForMs(accessKeyId);
    if (lockedMs > 0) {
      throw new OmsError('KeyLockedOut', 'Too many failed authentications for this access key; try again later.', {
        retryAfterSec: Math.ceil(lockedMs / 1000),
      });
    }
    const key = await this.#findKey(accessKeyId);
    if (key === undefined) throw new OmsError('AuthenticationFailed', DENIED, { cause: 'unknown access key' });

    const nowMs = Math.floor(this.#clock.nowUs() / US_PER_MS);
    let reason: string | undefined;
    if (key.State !== 'ACTIVE') reason = 'inactive access key';
    else if (region !== this.#region) reason = `credential scope region ${region} is not ${this.#region}`;
    else if (service !== 'api') reason = `credential scope service ${service} is not api`;
    else {
      const verdict = verifySignature(request, key.SecretKey, nowMs, { maxSkewMs: this.#maxSkewMs, authorization: parsed.authorization });
      if (!verdict.ok) reason = verdict.reason;
    }
    if (reason !== undefined) {
      this.#lockout.recordFailure(accessKeyId);
      throw new OmsError('AuthenticationFailed', DENIED, { cause: reason });
    }
    this.#lockout.recordSuccess(accessKeyId);
    const caller: Caller = { accountId: key.AccountId, accessKeyId };
    if (key.UserName !== undefined) caller.userName = key.UserName;
    return caller;
  }

  async #findKey(accessKeyId: string): Promise<AccessKeyRecord | undefined> {
    const nowMs = Math.floor(this.#clock.nowUs() / US_PER_MS);
    const cached = this.#cache.get(accessKeyId);
    if (cached !== undefined && cached.expiresAtMs > nowMs) return cached.record;
    const record = await this.#credentials.findAccessKey(accessKeyId);
    if (this.#cache.size >= MAX_CACHED_KEYS) this.#cache.clear();
    // Unknown keys are cached too, briefly, so that a flood of made-up keys does not reach the database.
    this.#cache.set(accessKeyId, { record, expiresAtMs: nowMs + this.#keyCacheMs });
    return record;
  }
}
