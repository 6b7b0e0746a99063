import {
  type Config,
  conflict,
  ENV_SENDER_ID,
  fieldError,
  HeraldError,
  hintOf,
  newSenderId,
  notFound,
  type ReencryptReport,
  reencryptSenders,
  type SecretBox,
  type SenderCreate,
  type SenderDocument,
  type SenderPatch,
  type SenderProvider,
  type SenderView,
  secretNames,
  senderAad,
  senderIdPattern,
  senderShapes,
  unavailable,
} from '@herald/shared';
import { pickDefault, type SenderChange, type Store, StoreConflictError } from '@herald/store';
import type { z } from 'zod';
import type { Principal } from '../plugins/auth.ts';
import { tenantScope } from './message-actions.ts';

/** What the sender operations need; the API passes its own, a test or a command builds them alike. */
export interface SenderDeps {
  store: Store;
  /** SENDER_KEYS as a box; undefined when unset (senders can then be listed but not stored). */
  box: SecretBox | undefined;
  config: Config;
}

/** Optional secrets: absent ones are not shown as set when the secrets cannot be opened. */
const optionalSecrets = new Set(['verify_token']);

const needKeys = () => unavailable('storing a sender\u2019s secrets needs SENDER_KEYS (docs/security.md); none is configured');

/** A stored sender as routes show it: secrets as `{set, last4}` only, never their values. */
export function toSenderView(doc: SenderDocument, box: SecretBox | undefined, isDefault: boolean): SenderView {
  let secrets: Record<string, string> | undefined;
  if (box?.canOpen(doc.secrets)) {
    try {
      secrets = box.openJson(doc.secrets, senderAad(doc));
    } catch {
      secrets = undefined;
    }
  }
  const hints = (names: readonly string[]) =>
    Object.fromEntries(
      names.filter((n) => secrets !== undefined || !optionalSecrets.has(n)).map((n) => [n, secrets ? hintOf(secrets[n]) : { set: true }]),
    );
  const names = secretNames[doc.provider];
  return {
    id: doc._id,
    tenant: doc.tenant,
    provider: doc.provider,
    label: doc.label,
    mps: doc.mps,
    default: isDefault,
    disabled: doc.disabled,
    fallback: doc.fallback ?? null,
    breaker: null,
    last_webhook_at: null,
    source: 'store',
    identifiers: { ...doc.identifiers },
    credentials: hints(names.credentials),
    webhook_secrets: hints(names.webhook_secrets),
    encryption: { key_id: doc.secrets.kid, readable: secrets !== undefined },
    created_at: new Date(doc.created_at).toISOString(),
    updated_at: new Date(doc.updated_at).toISOString(),
    updated_by: doc.updated_by,
  };
}

/**
 * The deployment's sender, from WHATSAPP_PROVIDER and its variables: read-only, the fallback of
 * every tenant. Its identifiers and last four characters are shown only to a platform admin (an
 * admin without a tenant claim): a tenant's users see that it exists, not the platform's account.
 */
export function envSenderView(config: Config, platform: boolean): SenderView {
  const provider = config.WHATSAPP_PROVIDER;
  const values: Record<SenderProvider, { identifiers: Record<string, string | null>; secrets: Record<string, string | undefined> }> = {
    meta: {
      identifiers: { phone_number_id: config.META_PHONE_NUMBER_ID ?? null, waba_id: null },
      secrets: { access_token: config.META_ACCESS_TOKEN, app_secret: config.META_APP_SECRET, verify_token: config.META_VERIFY_TOKEN },
    },
    twilio: {
      identifiers: { account_sid: config.TWILIO_ACCOUNT_SID ?? null, from: config.TWILIO_FROM ?? null },
      secrets: { auth_token: config.TWILIO_AUTH_TOKEN },
    },
    myoperator: {
      identifiers: { company_id: config.MYOPERATOR_COMPANY_ID ?? null, phone_number_id: config.MYOPERATOR_PHONE_NUMBER_ID ?? null },
      secrets: { api_key: config.MYOPERATOR_API_KEY, webhook_secret: config.MYOPERATOR_WEBHOOK_SECRET },
    },
  };
  const own = values[provider];
  const hint = (name: string) => {
    const value = own.secrets[name];
    return platform ? hintOf(value) : { set: Boolean(value) };
  };
  const hints = (names: readonly string[]) => Object.fromEntries(names.map((n) => [n, hint(n)]));
  return {
    id: ENV_SENDER_ID,
    tenant: null,
    provider,
    label: 'Deployment sender (environment)',
    mps: config.PROVIDER_MPS,
    default: true,
    disabled: false,
    fallback: config.ENV_SENDER_FALLBACK ?? null,
    breaker: null,
    last_webhook_at: null,
    source: 'environment',
    identifiers: platform ? own.identifiers : {},
    credentials: hints(secretNames[provider].credentials),
    webhook_secrets: hints(secretNames[provider].webhook_secrets),
    encryption: null,
    created_at: null,
    updated_at: null,
    updated_by: 'environment',
  };
}

/** The senders a caller may see: the deployment's, then its tenant's (a platform admin: all, or `?tenant=`). */
export async function listSenders(deps: SenderDeps, principal: Principal, tenant?: string): Promise<SenderView[]> {
  const docs = await deps.store.senders.list(tenantScope(principal, tenant));
  const byTenant = Map.groupBy(docs, (d) => d.tenant);
  const defaults = new Set([...byTenant.values()].map((group) => pickDefault(group)?._id));
  return [envSenderView(deps.config, principal.allTenants), ...docs.map((d) => toSenderView(d, deps.box, defaults.has(d._id)))];
}

export async function getSender(deps: SenderDeps, principal: Principal, id: string): Promise<SenderView> {
  if (id === ENV_SENDER_ID) return envSenderView(deps.config, principal.allTenants);
  const doc = await readable(deps, principal, id);
  return toSenderView(doc, deps.box, (await deps.store.senders.defaultFor(doc.tenant))?._id === doc._id);
}

async function readable(deps: SenderDeps, principal: Principal, id: string): Promise<SenderDocument> {
  // A malformed id, or another tenant's sender, is simply not found (as messages are).
  const doc = senderIdPattern.test(id) ? await deps.store.senders.get(id, tenantScope(principal)) : null;
  if (!doc) throw notFound('no such sender');
  return doc;
}

/** Which tenant a new sender belongs to: the caller's own, or for a platform admin the one it names. */
function owningTenant(principal: Principal, requested: string | undefined): string {
  if (principal.allTenants) {
    if (!requested) throw fieldError('tenant', 'required with an admin token without a tenant claim: name the tenant that owns the sender');
    return requested;
  }
  if (requested !== undefined && requested !== principal.tenant)
    throw new HeraldError('forbidden', 'a sender can only be created for your own tenant');
  return principal.tenant;
}

const defined = (o: Record<string, string | null | undefined>) =>
  Object.fromEntries(Object.entries(o).filter((e): e is [string, string] => typeof e[1] === 'string'));

export async function createSender(deps: SenderDeps, principal: Principal, body: SenderCreate, now = new Date()): Promise<SenderView> {
  const tenant = owningTenant(principal, body.tenant);
  if (body.default && body.disabled) throw fieldError('default', 'a disabled sender cannot be the default');
  if (!deps.box) throw needKeys();
  const _id = newSenderId();
  if (body.fallback) await checkFallback(deps, tenant, _id, body.fallback);
  const doc: SenderDocument = {
    _id,
    tenant,
    provider: body.provider,
    label: body.label,
    mps: body.mps,
    default_at: body.default ? now : null,
    disabled: body.disabled,
    fallback: body.fallback,
    identifiers: defined(body.identifiers),
    secrets: deps.box.sealJson(defined({ ...body.credentials, ...body.webhook_secrets }), senderAad({ _id, tenant })),
    version: 1,
    created_at: now,
    updated_at: now,
    updated_by: principal.sub,
  };
  await deps.store.senders.insert(doc);
  return toSenderView(doc, deps.box, body.default);
}

/**
 * A fallback must be another sender the tenant may send through: one of its own stored senders,
 * or the deployment's (`env`). One level only: a fallback's own fallback is never followed.
 */
async function checkFallback(deps: SenderDeps, tenant: string, self: string, fallback: string): Promise<void> {
  if (fallback === self) throw fieldError('fallback', 'a sender cannot be its own fallback');
  if (fallback === ENV_SENDER_ID) return;
  const target = await deps.store.senders.get(fallback, { tenant });
  if (!target) throw fieldError('fallback', `no sender ${fallback} of tenant ${tenant}`);
  if (target.disabled) throw fieldError('fallback', `sender ${fallback} is disabled`);
}

/** A zod check of a merged value, its first problem as a 400 naming the field under `prefix`. */
function check<S extends z.ZodType>(schema: S, value: unknown, prefix: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = [prefix, ...(issue?.path ?? []).map(String)].join('.');
  throw fieldError(path, issue?.message ?? 'invalid');
}

/** Refuses a field that belongs to another provider, naming it. */
function ownFields(provider: SenderProvider, group: string, given: object | undefined, allowed: readonly string[]): void {
  for (const key of Object.keys(given ?? {})) {
    if (!allowed.includes(key)) throw fieldError(`${group}.${key}`, `not a field of a ${provider} sender`);
  }
}

/**
 * Changes a stored sender: only what is given changes. A secret given replaces the stored one, an
 * omitted one keeps its value, `null` removes an optional one. The deployment's sender is
 * read-only (change the environment). 409 when the sender changed meanwhile, or when the change
 * would leave the tenant's default disabled.
 */
export async function updateSender(
  deps: SenderDeps,
  principal: Principal,
  id: string,
  patch: SenderPatch,
  now = new Date(),
): Promise<SenderView> {
  if (id === ENV_SENDER_ID)
    throw conflict('the deployment sender comes from the environment (WHATSAPP_PROVIDER and its variables): change those instead');
  const doc = await readable(deps, principal, id);
  const shapes = senderShapes[doc.provider];
  const names = secretNames[doc.provider];
  ownFields(doc.provider, 'identifiers', patch.identifiers, Object.keys(shapes.identifiers.shape));
  ownFields(doc.provider, 'credentials', patch.credentials, names.credentials);
  ownFields(doc.provider, 'webhook_secrets', patch.webhook_secrets, names.webhook_secrets);

  const change: SenderChange = { updated_at: now, updated_by: principal.sub };
  if (patch.label !== undefined) change.label = patch.label;
  if (patch.mps !== undefined) change.mps = patch.mps;
  if (patch.fallback !== undefined) {
    if (patch.fallback) await checkFallback(deps, doc.tenant, doc._id, patch.fallback);
    change.fallback = patch.fallback;
  }
  if (patch.identifiers)
    change.identifiers = defined(check(shapes.identifiers, { ...doc.identifiers, ...patch.identifiers }, 'identifiers'));

  if (patch.credentials || patch.webhook_secrets) {
    if (!deps.box) throw needKeys();
    if (!deps.box.canOpen(doc.secrets))
      throw conflict(
        `the sender's secrets are sealed with key ${doc.secrets.kid}, which SENDER_KEYS does not list: add it back to change them`,
      );
    const secrets: Record<string, string | undefined> = deps.box.openJson(doc.secrets, senderAad(doc));
    for (const [name, value] of Object.entries({ ...patch.credentials, ...patch.webhook_secrets })) {
      if (value === null) delete secrets[name];
      else if (value !== undefined) secrets[name] = value;
    }
    const pick = (list: readonly string[]) => defined(Object.fromEntries(list.map((n) => [n, secrets[n]])));
    check(shapes.credentials, pick(names.credentials), 'credentials');
    check(shapes.webhook_secrets, pick(names.webhook_secrets), 'webhook_secrets');
    change.secrets = deps.box.sealJson(defined(secrets), senderAad(doc));
  }

  const currentDefault = await deps.store.senders.defaultFor(doc.tenant);
  const isDefault = currentDefault?._id === doc._id;
  const disabled = patch.disabled ?? doc.disabled;
  const willBeDefault = patch.default ?? isDefault;
  if (patch.disabled !== undefined) change.disabled = patch.disabled;
  if (willBeDefault && disabled) {
    if (patch.default === true) throw fieldError('default', 'a disabled sender cannot be the default');
    throw conflict("it is its tenant's default sender: make another sender the default (or set default false) before disabling it");
  }
  if (patch.default === true && !isDefault) change.default_at = now;
  if (patch.default === false && doc.default_at) change.default_at = null;

  let updated: SenderDocument | null;
  try {
    updated = await deps.store.senders.update(doc._id, doc.tenant, doc.version, change);
  } catch (err) {
    if (err instanceof StoreConflictError) throw conflict(err.message);
    throw err;
  }
  if (!updated) throw notFound('no such sender');
  return toSenderView(updated, deps.box, willBeDefault);
}

/** Seals every sender's secrets with the first SENDER_KEYS key (the middle step of a key rotation). */
export async function reencryptAll(deps: SenderDeps, principal: Principal): Promise<ReencryptReport> {
  if (!principal.allTenants) throw new HeraldError('forbidden', 're-encryption needs an admin token without a tenant claim');
  if (!deps.box) throw needKeys();
  return reencryptSenders(deps.store.senders, deps.box);
}
