export { buildSimulator } from './app.ts';
export type { Faults, FaultsInput, ScriptEntry, WebhookFaults } from './core/faults.ts';
export type { RequestOutcome, WebhookRecord } from './core/store.ts';
export {
  DEFAULT_META_ACCESS_TOKEN,
  DEFAULT_META_APP_SECRET,
  DEFAULT_WEBHOOK_DELAYS_MS,
  type DeliveryStatus,
  type MetaOptions,
  type SimulatorOptions,
  type StatusDelaysMs,
} from './options.ts';
export { metaSignature } from './providers/meta.ts';
export { META_ERRORS } from './providers/meta-errors.ts';
export type { RecordsResponse, StatsResponse } from './routes/control.ts';
export { type RunningSimulator, type StartSimulatorOptions, startSimulator } from './start.ts';
