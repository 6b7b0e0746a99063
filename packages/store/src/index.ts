export { DuplicateRecordError, isStoreError, isStoreUnavailable, StoreConflictError } from './errors.ts';
export { type Fold, foldEvents, type Snapshot } from './ladder.ts';
export {
  event,
  type HistoryFilter,
  type HistoryRequest,
  type MessageQuery,
  type MessageStore,
  type ReplySubject,
  type Scope,
  type SentRecord,
  type StatusChange,
} from './messages.ts';
export type { OrphanStore } from './orphans.ts';
export { phoneCandidates } from './orphans.ts';
export { detectProfile, type ProfileName, profileNamed } from './profiles/detect.ts';
export type { ServerProfile } from './profiles/profile.ts';
export { notListedReason, type ProviderTemplateStore } from './provider-templates.ts';
export { pickDefault, type SenderChange, type SenderStore } from './senders.ts';
export type { Preferences, SettingsStore } from './settings.ts';
export { type Latency, p95FromBuckets, type Statistics, type StatisticsStore } from './statistics.ts';
export { type StatsChange, statsDeltas } from './stats.ts';
export { connectStore, dropDatabase, type Store, type StoreOptions } from './store.ts';
export type { TemplateRepository } from './templates.ts';
