import { OUTSCALE_CALL_NAMES } from './outscale-call-names.js';

/** The call names of the OUTSCALE API (reference/outscale-api-call-names.txt), plus the OMS extensions. */
const CALL_NAMES: ReadonlySet<string> = new Set(OUTSCALE_CALL_NAMES);

export function isOutscaleCallName(name: string): boolean {
  return CALL_NAMES.has(name);
}

export { OUTSCALE_CALL_NAMES };
