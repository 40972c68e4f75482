// Prometheus metrics for /metrics, in a registry per app so tests can build many apps.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Ferry's metrics. */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'ferry_http_requests_total',
    help: 'API requests answered, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'ferry_http_request_duration_seconds',
    help: 'API request duration',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
    registers: [this.registry],
  });
  readonly syncJobs = new Counter({
    name: 'ferry_sync_jobs_total',
    help: 'SWR sync jobs finished, by status',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly syncBytes = new Counter({
    name: 'ferry_sync_bytes_total',
    help: 'Bytes copied by SWR sync jobs',
    registers: [this.registry],
  });

  constructor(processMetrics = true) {
    if (processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'ferry_' });
  }
}
