import type { Caller } from '../identity/index.js';

/**
 * What OMS tracks about one HTTP request from its first hook to the record written after its last byte.
 * Created with every field set, so that its shape never changes (V8 keeps one hidden class).
 */
export class RequestState {
  readonly startNs: bigint;
  readonly startUs: number;
  /** The OUTSCALE call name once resolved; null for OMS's own routes and unknown calls. */
  callName: string | null = null;
  /** Set once the signature is verified: only then is the call recorded (401s never are). */
  caller: Caller | null = null;
  responseBytes = 0;

  constructor(startNs: bigint, startUs: number) {
    this.startNs = startNs;
    this.startUs = startUs;
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    oms: RequestState;
  }
}
