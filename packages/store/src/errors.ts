import { MongoError, MongoNetworkError, MongoServerSelectionError } from 'mongodb';

/** A write lost a race with another writer of the same record (e.g. two saves of one template). */
export class StoreConflictError extends Error {
  readonly code = 'store_conflict';
}

/** The server cannot be reached: a 503 for a request, a wait for a job. */
export const isStoreUnavailable = (err: unknown): boolean => err instanceof MongoServerSelectionError || err instanceof MongoNetworkError;

/** Any error the database driver raised (as opposed to Herald's own): a job waits and tries again. */
export const isStoreError = (err: unknown): boolean =>
  err instanceof MongoError || (err as Error | undefined)?.name?.startsWith('Mongo') === true;

/** A record with this id is already written (an insert repeated by a retried job, or a race). */
export class DuplicateRecordError extends Error {
  readonly code = 'duplicate_record';
}
