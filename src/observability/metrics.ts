import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The Prometheus registry of one server, with the metrics every module reports to. */
export class Metrics {
  readonly registry = new Registry();
  readonly requests: Counter<'call' | 'status'>;
  readonly callSeconds: Histogram<'call'>;
  readonly authFailures: Counter<'kind'>;
  readonly recordsWritten: Counter;
  readonly recordQueue: Gauge;
  readonly recordsPurged: Counter;
  readonly gatewayCalls: Counter<'kind' | 'status' | 'recorded'>;
  readonly upstreamErrors: Counter<'kind'>;
  readonly throttled: Counter;
  readonly recordsSpooled: Counter;
  readonly spoolBacklog: Gauge;
  readonly ingestRecords: Counter<'outcome'>;
  readonly ingestBatches: Counter<'status'>;
  readonly ingestInFlight: Gauge;
  /** Children of gatewayCalls by label values: `inc(labels)` hashes its labels on every call. */
  readonly #gatewayCallCounters = new Map<string, { inc(): void }>();

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'oms_process_' });
    this.requests = new Counter({
      name: 'oms_api_requests_total',
      help: 'OUTSCALE API calls answered, by call name and HTTP status',
      labelNames: ['call', 'status'],
      registers: [this.registry],
    });
    this.callSeconds = new Histogram({
      name: 'oms_api_call_duration_seconds',
      help: 'Time to answer an API call served by OMS',
      labelNames: ['call'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
    this.authFailures = new Counter({
      name: 'oms_auth_failures_total',
      help: 'Refused signatures, by kind (AuthenticationFailed or KeyLockedOut)',
      labelNames: ['kind'],
      registers: [this.registry],
    });
    this.recordsWritten = new Counter({ name: 'oms_records_written_total', help: 'Log records written to the store by this process', registers: [this.registry] });
    this.recordQueue = new Gauge({ name: 'oms_record_queue_length', help: 'Log records waiting to be written to the store', registers: [this.registry] });
    this.recordsPurged = new Counter({ name: 'oms_records_purged_total', help: 'Log records deleted by retention', registers: [this.registry] });
    this.gatewayCalls = new Counter({
      name: 'oms_gateway_calls_total',
      help: 'Calls through the gateway, by kind (oapi, aws-compliant, object-storage, not-an-api-call), HTTP status and whether a record was made',
      labelNames: ['kind', 'status', 'recorded'],
      registers: [this.registry],
    });
    this.upstreamErrors = new Counter({ name: 'oms_gateway_upstream_errors_total', help: 'Upstream failures seen by the gateway, by error kind', labelNames: ['kind'], registers: [this.registry] });
    this.throttled = new Counter({ name: 'oms_gateway_throttled_total', help: 'Calls refused with 429 because the gateway was at its limits', registers: [this.registry] });
    this.recordsSpooled = new Counter({ name: 'oms_records_spooled_total', help: 'Log records written to the disk spool because the store refused them', registers: [this.registry] });
    this.spoolBacklog = new Gauge({ name: 'oms_spool_backlog_records', help: 'Log records in the disk spool waiting to be replayed into the store', registers: [this.registry] });
    this.ingestRecords = new Counter({
      name: 'oms_ingest_records_total',
      help: 'Records received on POST /oms/v1/ingest, by outcome (accepted, duplicate, rejected)',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    this.ingestBatches = new Counter({
      name: 'oms_ingest_batches_total',
      help: 'Batches posted to /oms/v1/ingest, by HTTP status of the answer',
      labelNames: ['status'],
      registers: [this.registry],
    });
    this.ingestInFlight = new Gauge({ name: 'oms_ingest_batches_in_flight', help: 'Ingest batches being received or stored', registers: [this.registry] });
  }

  /**
   * Counts one gateway call. Once per call on the hot path, hence the cached children; their number
   * is bounded by the kinds (4), the HTTP statuses (100-599) and yes/no.
   */
  countGatewayCall(kind: string, status: number, recorded: boolean): void {
    const id = `${kind} ${status} ${recorded ? 'y' : 'n'}`;
    let counter = this.#gatewayCallCounters.get(id);
    if (counter === undefined) {
      counter = this.gatewayCalls.labels({ kind, status: String(status), recorded: recorded ? 'yes' : 'no' });
      this.#gatewayCallCounters.set(id, counter);
    }
    counter.inc();
  }
}
