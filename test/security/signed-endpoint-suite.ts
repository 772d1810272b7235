import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ApiAnswer, TestKey } from '../fixtures/test-server.js';

/**
 * The security behaviour every signed endpoint shares (SPEC section 5). A route's test file calls it
 * with how to reach the route and how to make keys; each case is a real signed call over loopback.
 */
export interface SignedEndpoint {
  /** A signed call to the route with this key, at this signing time, optionally without Authorization. */
  send(key: Pick<TestKey, 'accessKeyId' | 'secretKey'>, options?: { nowMs?: number; headers?: Record<string, string>; unsigned?: boolean }): Promise<ApiAnswer>;
  newKey(): Promise<TestKey>;
  deactivate(accessKeyId: string): Promise<void>;
  nowMs(): number;
  /** Moves the server clock (lockouts expire with it). */
  advanceMs(ms: number): void;
}

function assertDenied(answer: ApiAnswer, code: string, secret?: string): void {
  assert.equal(answer.status, 401, answer.text);
  assert.deepEqual(Object.keys(answer.body), ['Errors', 'ResponseContext']);
  assert.equal(answer.body.Errors[0].Code, code);
  assert.equal(answer.body.Errors[0].Type, 'AccessDenied');
  assert.equal(typeof answer.body.ResponseContext.RequestId, 'string');
  if (secret !== undefined) assert.equal(answer.text.includes(secret), false, 'the answer never echoes a secret');
}

export function describeSignedEndpointSecurity(name: string, endpoint: () => SignedEndpoint): void {
  describe(`${name}: signature checks`, () => {
    it('refuses a call without Authorization with 401/1', async () => {
      const e = endpoint();
      const key = await e.newKey();
      assertDenied(await e.send(key, { unsigned: true }), '1');
    });

    it('refuses a garbage Authorization header with 401/1', async () => {
      const e = endpoint();
      const key = await e.newKey();
      for (const value of ['Bearer abc', 'OSC4-HMAC-SHA256', 'OSC4-HMAC-SHA256 Credential=x', 'AWS4-HMAC-SHA256 Credential=A/B/C/D/E, SignedHeaders=host, Signature=zz']) {
        assertDenied(await e.send(key, { unsigned: true, headers: { authorization: value } }), '1');
      }
    });

    it('refuses a wrong secret with 401/1 and never echoes it', async () => {
      const e = endpoint();
      const key = await e.newKey();
      const wrong = 'W'.repeat(40);
      assertDenied(await e.send({ accessKeyId: key.accessKeyId, secretKey: wrong }), '1', wrong);
    });

    it('refuses an unknown access key with the same 401/1 as a wrong secret', async () => {
      const e = endpoint();
      const unknown = await e.send({ accessKeyId: 'AKIAUNKNOWN000000000', secretKey: 'S'.repeat(40) });
      assertDenied(unknown, '1');
      const key = await e.newKey();
      const wrong = await e.send({ accessKeyId: key.accessKeyId, secretKey: 'S'.repeat(40) });
      assert.equal(unknown.body.Errors[0].Details, wrong.body.Errors[0].Details);
    });

    it('refuses a signature more than 5 minutes off the server clock, either way', async () => {
      const e = endpoint();
      const key = await e.newKey();
      assertDenied(await e.send(key, { nowMs: e.nowMs() - 6 * 60_000 }), '1');
      assertDenied(await e.send(key, { nowMs: e.nowMs() + 6 * 60_000 }), '1');
      const within = await e.send(key, { nowMs: e.nowMs() - 4 * 60_000 });
      assert.equal(within.status, 200, within.text);
    });

    it('refuses an inactive key', async () => {
      const e = endpoint();
      const key = await e.newKey();
      assert.equal((await e.send(key)).status, 200);
      await e.deactivate(key.accessKeyId);
      // Keys are cached for a few seconds of server time; deactivation must hold once that has passed.
      e.advanceMs(6_000);
      assertDenied(await e.send(key, { nowMs: e.nowMs() }), '1');
    });

    it('locks a key for a minute after four failures in a row, even for a good signature, with Retry-After', async () => {
      const e = endpoint();
      const key = await e.newKey();
      for (let i = 0; i < 4; i++) assertDenied(await e.send({ accessKeyId: key.accessKeyId, secretKey: 'X'.repeat(40) }), '1');
      const locked = await e.send(key);
      assertDenied(locked, '5');
      const retryAfter = Number(locked.headers.get('retry-after'));
      assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After ${retryAfter}`);
      e.advanceMs(61_000);
      const after = await e.send(key, { nowMs: e.nowMs() });
      assert.equal(after.status, 200, after.text);
    });

    it('lengthens the lock by a minute every further four failures', async () => {
      const e = endpoint();
      const key = await e.newKey();
      const bad = { accessKeyId: key.accessKeyId, secretKey: 'X'.repeat(40) };
      for (let i = 0; i < 4; i++) await e.send(bad, { nowMs: e.nowMs() });
      e.advanceMs(61_000);
      for (let i = 0; i < 4; i++) await e.send(bad, { nowMs: e.nowMs() });
      const locked = await e.send(key, { nowMs: e.nowMs() });
      assertDenied(locked, '5');
      const retryAfter = Number(locked.headers.get('retry-after'));
      assert.ok(retryAfter > 60 && retryAfter <= 120, `Retry-After ${retryAfter}`);
      e.advanceMs(121_000);
      assert.equal((await e.send(key, { nowMs: e.nowMs() })).status, 200);
    });
  });
}
