import { RestError } from '@azure/data-tables';

/**
 * What a storage answer means, in one place: the Table, Queue and Blob clients throw core-rest-pipeline's
 * RestError with the HTTP status, and each caller decides by meaning, not by number.
 */

const statusOf = (error: unknown): number | undefined => (error instanceof RestError ? error.statusCode : undefined);

/** 404: the row, blob or table is not there. */
export const isNotFound = (error: unknown): error is RestError => statusOf(error) === 404;

/** 409: a row (or container) with that key exists already. */
export const isConflict = (error: unknown): error is RestError => statusOf(error) === 409;

/** 412: the row changed since it was read (its ETag no longer matches). */
export const isPreconditionFailed = (error: unknown): error is RestError => statusOf(error) === 412;

/** Another writer got there first: created the row meanwhile (409) or changed it (412). Read again and decide again. */
export const isLostRace = (error: unknown): error is RestError => isConflict(error) || isPreconditionFailed(error);

/** Any 4xx: storage will refuse the same request again (a 409 or 412 is a race, decided by the caller). */
export const isRefusal = (error: unknown): error is RestError => {
  const status = statusOf(error);
  return status !== undefined && status >= 400 && status < 500;
};

/** Storage did not answer, or failed (5xx): the same request may succeed later. */
export const isOutage = (error: unknown): error is RestError => {
  if (!(error instanceof RestError)) return false;
  return error.statusCode === undefined || error.statusCode >= 500;
};
