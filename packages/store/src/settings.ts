import { Batcher, type Preferences, type SettingsDocument } from '@herald/shared';
import type { Collection } from 'mongodb';

export type { Preferences };

/** Recipients' preferences (SPEC 2: global to the deployment, keyed by E.164 phone). */
export class SettingsStore {
  readonly #c: Collection<SettingsDocument>;
  readonly #lookups: Batcher<string, Preferences | null>;

  constructor(collection: Collection<SettingsDocument>) {
    this.#c = collection;
    // The accept path asks once per request: concurrent requests share one lookup per turn.
    this.#lookups = new Batcher(async (phones) => {
      const byPhone = await this.preferencesOf([...new Set(phones)]);
      return phones.map((p) => byPhone.get(p) ?? null);
    });
  }

  get(phone: string): Promise<SettingsDocument | null> {
    return this.#c.findOne({ _id: phone });
  }

  /** One recipient's preferences, coalesced with concurrent lookups. */
  preferencesFor(phone: string): Promise<Preferences | null> {
    return this.#lookups.add(phone);
  }

  /** Preferences of many recipients (those with none are absent from the map). */
  async preferencesOf(phones: string[]): Promise<Map<string, Preferences>> {
    if (phones.length === 0) return new Map();
    // One query either way. (`$in` is evaluated by FerretDB over the whole collection rather than
    // pushed down, but recipients' settings are few: one scan beats a lookup per phone there.)
    const docs = await this.#c
      .find(phones.length === 1 ? { _id: phones[0] as string } : { _id: { $in: phones } }, {
        projection: { opted_out: 1, disabled_types: 1 },
      })
      .toArray();
    // Whole answers whatever the document holds: FerretDB 1.24 drops an empty array given in
    // `$setOnInsert`, so a recipient first written by an opt-out has no `disabled_types`.
    return new Map(docs.map((d) => [d._id, { opted_out: d.opted_out === true, disabled_types: d.disabled_types ?? [] }]));
  }

  /** Every recipient who set something (opted out, or turned a type off): the API's mirror. */
  async all(): Promise<Map<string, Preferences>> {
    const docs = await this.#c.find({}, { projection: { opted_out: 1, disabled_types: 1 } }).toArray();
    return new Map(docs.filter((d) => d.opted_out || (d.disabled_types?.length ?? 0) > 0).map((d) => [d._id, d]));
  }

  /** Sets what is given; a new recipient starts opted in with no type disabled. */
  async update(phone: string, change: Partial<Preferences>, source: string, at = new Date()): Promise<SettingsDocument> {
    const set: Partial<SettingsDocument> = { updated_at: at, source };
    if (change.opted_out !== undefined) set.opted_out = change.opted_out;
    if (change.disabled_types !== undefined) set.disabled_types = [...new Set(change.disabled_types)];
    const setOnInsert: Partial<SettingsDocument> = {};
    if (change.opted_out === undefined) setOnInsert.opted_out = false;
    if (change.disabled_types === undefined) setOnInsert.disabled_types = [];
    const doc = await this.#c.findOneAndUpdate(
      { _id: phone },
      { $set: set, ...(Object.keys(setOnInsert).length > 0 ? { $setOnInsert: setOnInsert } : {}) },
      { upsert: true, returnDocument: 'after' },
    );
    return doc ?? { _id: phone, opted_out: false, disabled_types: [], ...set, updated_at: at, source };
  }

  async remove(phone: string): Promise<number> {
    return (await this.#c.deleteOne({ _id: phone })).deletedCount;
  }
}
