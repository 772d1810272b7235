import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../../observability/metrics.js';

export interface Readiness {
  ready: boolean;
  reason?: string;
  /** Records waiting in the disk spool for the store. */
  spoolBacklog?: number;
}

export interface HealthDeps {
  readiness: () => Promise<Readiness>;
  metrics: Metrics;
}

/** Liveness, readiness (the store answers, records are not piling up) and Prometheus metrics. */
export function registerHealthRoutes(app: FastifyInstance, deps: HealthDeps): void {
  app.get('/healthz', async (_request, reply) => {
    reply.header('content-type', 'application/json');
    return JSON.stringify({ Status: 'ok' });
  });
  app.get('/readyz', async (_request, reply) => {
    const state = await deps.readiness();
    reply.code(state.ready ? 200 : 503).header('content-type', 'application/json');
    const backlog = state.spoolBacklog === undefined ? {} : { SpoolBacklog: state.spoolBacklog };
    return JSON.stringify(state.ready ? { Status: 'ready', ...backlog } : { Status: 'not ready', Reason: state.reason ?? 'unknown', ...backlog });
  });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
}
