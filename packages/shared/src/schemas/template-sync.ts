/** A `template-sync` job: who asked (the scheduler, a worker's start, an admin, a webhook). */
export interface TemplateSyncJob {
  v: 1;
  reason: 'schedule' | 'start' | 'admin' | 'webhook';
}

/** What a sync did: templates listed by the provider, records changed, records marked DELETED. */
export interface TemplateSyncResult {
  templates: number;
  pages: number;
  changed: number;
  removed: number;
  synced_at: string;
}
