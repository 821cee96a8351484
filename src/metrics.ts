import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The process's Prometheus registry, served at GET /metrics. */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

/** Every WeCom API call by api and errcode (`network` / `http_5xx` for transport failures). */
export const wecomCalls = new Counter({
  name: 'wecom_api_calls_total',
  help: 'WeCom API calls by api and errcode',
  labelNames: ['api', 'errcode'] as const,
  registers: [registry],
});

/** WeCom API latency. */
export const wecomLatency = new Histogram({
  name: 'wecom_api_duration_seconds',
  help: 'WeCom API call duration',
  labelNames: ['api'] as const,
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});

/** Callbacks by outcome: enqueued, duplicate, ignored, or the 4xx reason. */
export const callbacks = new Counter({
  name: 'wecom_callbacks_total',
  help: 'Callbacks received by outcome',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

/** Jobs finished by queue and outcome. */
export const jobsDone = new Counter({
  name: 'bot_jobs_total',
  help: 'Jobs finished by queue and outcome',
  labelNames: ['queue', 'outcome'] as const,
  registers: [registry],
});

/** Welcome latency from callback accepted to welcome sent. */
export const welcomeLatency = new Histogram({
  name: 'welcome_latency_seconds',
  help: 'Time from callback accepted to send_welcome_msg ok',
  buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 20],
  registers: [registry],
});

/** Nurture step outcomes: sent, submitted, reminded, skipped, failed, unknown, deferred_<reason>. */
export const nurtureOutcomes = new Counter({
  name: 'nurture_step_outcomes_total',
  help: 'Nurture steps by outcome',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

/** Chat commands by command and outcome (ok, refused, unknown_command, invalid_args, failed, ...). */
export const opsCommands = new Counter({
  name: 'ops_commands_total',
  help: 'Chat commands by command and outcome',
  labelNames: ['command', 'outcome'] as const,
  registers: [registry],
});
