import type { ResolvedOptions } from '../options.ts';
import type { MetaTemplates } from '../providers/meta-template-registry.ts';
import type { FaultEngine } from './faults.ts';
import type { HeldReplies } from './held-replies.ts';
import type { SimSenders } from './senders.ts';
import type { ServiceWindowBook } from './service-window.ts';
import type { Store } from './store.ts';
import type { WebhookDispatcher } from './webhook-dispatcher.ts';

/** Everything one simulator instance owns; built by app.ts and handed to each route plugin. */
export interface SimulatorState {
  options: ResolvedOptions;
  store: Store;
  faults: FaultEngine;
  dispatcher: WebhookDispatcher;
  held: HeldReplies;
  /** The Meta account's message templates and their statuses (the management API's list; sends check them). */
  metaTemplates: MetaTemplates;
  /** Each number's last inbound message per provider, and whether free-form text outside 24 h is refused. */
  serviceWindow: ServiceWindowBook;
  /** The numbers and accounts it speaks for, each with its own credentials and webhook secret. */
  senders: SimSenders;
}
