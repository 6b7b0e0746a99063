import { defaultTemplates, type TemplateDocument, type TemplateSource, type TemplateVersionDocument } from '@herald/shared';
import { type Collection, MongoServerError } from 'mongodb';
import { StoreConflictError } from './errors.ts';
import type { ServerProfile } from './profiles/profile.ts';

const isDuplicateKey = (err: unknown) => err instanceof MongoServerError && err.code === 11000;

/** Templates and every saved version of each (SPEC 6). */
export class TemplateRepository implements TemplateSource {
  readonly #c: Collection<TemplateDocument>;
  readonly #versions: Collection<TemplateVersionDocument>;

  constructor(templates: Collection<TemplateDocument>, versions: Collection<TemplateVersionDocument>, _profile: ServerProfile) {
    this.#c = templates;
    this.#versions = versions;
  }

  list(): Promise<TemplateDocument[]> {
    return this.#c.find({}).sort({ _id: 1 }).toArray();
  }

  get(type: string): Promise<TemplateDocument | null> {
    return this.#c.findOne({ _id: type });
  }

  /** Every saved version, newest first. */
  versions(type: string, limit = 1000): Promise<TemplateVersionDocument[]> {
    return this.#versions.find({ type }).sort({ version: -1 }).limit(limit).toArray();
  }

  /**
   * Saves `next` as version `next.version` of its type, replacing `current` (null: a new
   * template). The version is written first: it is the lock that makes two simultaneous saves of
   * one type take different numbers — the loser gets a StoreConflictError and may retry.
   */
  async save(next: Omit<TemplateDocument, '_id'>, current: Pick<TemplateDocument, 'version'> | null): Promise<void> {
    try {
      await this.#versions.insertOne({ _id: `${next.type}:${next.version}`, ...next });
    } catch (err) {
      if (isDuplicateKey(err)) throw new StoreConflictError('the template changed meanwhile; retry');
      throw err;
    }
    if (current) {
      const res = await this.#c.replaceOne({ _id: next.type, version: current.version }, next);
      if (res.matchedCount === 0) throw new StoreConflictError('the template changed meanwhile; retry');
    } else {
      try {
        await this.#c.insertOne({ _id: next.type, ...next });
      } catch (err) {
        if (isDuplicateKey(err)) throw new StoreConflictError('the template changed meanwhile; retry');
        throw err;
      }
    }
  }

  /**
   * Installs the default templates where absent. `$setOnInsert` never touches an existing one, so
   * an admin's edits survive every restart; two processes starting at once may race to the same
   * insert, and the loser's duplicate-key error means the template is there.
   */
  async ensureDefaults(now = new Date()): Promise<void> {
    for (const t of defaultTemplates) {
      const doc: Omit<TemplateDocument, '_id'> = {
        type: t.type,
        content: t.content,
        active: true,
        version: 1,
        variables: [...t.variables],
        category: t.category,
        providers: {},
        updated_at: now,
        updated_by: 'system',
      };
      try {
        await this.#c.updateOne({ _id: t.type }, { $setOnInsert: doc }, { upsert: true });
        await this.#versions.updateOne({ _id: `${t.type}:1` }, { $setOnInsert: doc }, { upsert: true });
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
    }
  }
}
