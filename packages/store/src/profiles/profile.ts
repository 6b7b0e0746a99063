import type { Collection, Document, MongoClientOptions } from 'mongodb';

/**
 * What differs between the servers the store runs on. The store's code is written once against
 * this interface; a profile says how its server wants each kind of work done. The profile is
 * chosen at connect from what the server says it is (`detectProfile`), never from configuration.
 */
export interface ServerProfile {
  readonly name: 'mongodb' | 'ferretdb';
  /** Client options this server needs beyond the store's defaults. */
  clientOptions(url: string): MongoClientOptions;
  /** Whether the B-tree indexes of `createIndexes` are worth their cost on every write. */
  readonly btreeIndexes: boolean;
  /**
   * Runs `fn` while no other process of the deployment writes the documents named by `keys`
   * (`collection:_id`). Where the server makes a conditional update atomic, this only runs `fn`.
   */
  exclusive<T>(keys: string[], fn: () => Promise<T>): Promise<T>;
  /** Runs `write` for each item: concurrently where the server takes it, else one after another. */
  each<I, O>(items: I[], write: (item: I) => Promise<O>): Promise<O[]>;
  /** Adds to counter documents (`$inc`, created when absent). */
  increment(
    collection: Collection<{ _id: string }>,
    ops: { _id: string; inc: Record<string, number>; setOnInsert: Document }[],
  ): Promise<void>;
  /** Documents whose `field` equals one of `values`. */
  findWhereIn<T extends Document>(collection: Collection<T>, field: string, values: string[], projection?: Document): Promise<T[]>;
  /**
   * A new message as it is written (read back, a field it left out is absent where it was null;
   * queries for null match both).
   */
  newDocument<T extends Document>(doc: T): T;
  /** How a raw payload (a provider's event) is stored, and read back. */
  encodePayload(value: unknown): unknown;
  decodePayload(stored: unknown): unknown;
}

/** Shared by both profiles: a JSON string read back, anything else as stored. */
export function decodeJson(stored: unknown): unknown {
  if (typeof stored !== 'string') return stored;
  try {
    return JSON.parse(stored);
  } catch {
    return stored;
  }
}
