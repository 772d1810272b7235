export { buildHttpServer, gatewayErrorAnswer, MAX_BODY_BYTES, type HttpServerDeps } from './http-server.js';
export { OMS_CALLS } from './routes/osc-api.js';
export { OSC_ERRORS, mapError, oscErrorBody, type OscErrorBody } from './osc-errors.js';
export type { Readiness } from './routes/health.js';
