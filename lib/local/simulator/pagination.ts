/**
 * Marker/NextToken pagination shared by every list call. Tokens are opaque and key-based (the
 * last key returned), so a page stays correct when items are added or removed between calls.
 */
import { SimError } from './errors';

/** `number`: the largest page any list call returns; `'aws'`: each API's own default and maximum. */
export type PageSize = number | 'aws';

export interface PageRequest<T> {
  /** The token the caller passed (Marker, NextToken, ContinuationToken, PaginationToken). */
  readonly token?: string;
  /** The page size the caller asked for (MaxItems, Limit, MaxResults...). */
  readonly requested?: number;
  /** The API's page size when the caller asks for none. */
  readonly awsDefault: number;
  readonly min?: number;
  readonly max: number;
  /** Sort key of an item; `items` must be sorted ascending by it. */
  readonly keyOf: (item: T) => string;
  /** Error code for an invalid token or page size. */
  readonly errorCode: string;
  /** Name of the page size parameter, for the error message. */
  readonly sizeName: string;
}

export interface Page<T> {
  readonly items: T[];
  /** Token for the next page; absent on the last page. */
  readonly next?: string;
}

export function encodeToken(lastKey: string): string {
  return Buffer.from(JSON.stringify({ after: lastKey }), 'utf8').toString('base64');
}

export function decodeToken(token: string, errorCode: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { after?: unknown };
    if (typeof parsed.after === 'string') return parsed.after;
  } catch {
    // fall through to the error below
  }
  throw new SimError(errorCode, `Invalid pagination token: ${token.slice(0, 40)}`);
}

export function paginate<T>(items: readonly T[], pageSize: PageSize, request: PageRequest<T>): Page<T> {
  const min = request.min ?? 1;
  if (request.requested !== undefined) {
    if (!Number.isInteger(request.requested) || request.requested < min || request.requested > request.max) {
      throw new SimError(
        request.errorCode,
        `${request.sizeName} must be an integer between ${min} and ${request.max}, got ${request.requested}`,
      );
    }
  }
  const wanted = request.requested ?? request.awsDefault;
  const size = pageSize === 'aws' ? wanted : Math.min(wanted, pageSize);
  let start = 0;
  if (request.token !== undefined && request.token !== '') {
    const after = decodeToken(request.token, request.errorCode);
    start = items.findIndex((item) => request.keyOf(item) > after);
    if (start < 0) start = items.length;
  }
  const page = items.slice(start, start + size);
  const hasMore = start + size < items.length;
  return {
    items: page,
    next: hasMore && page.length > 0 ? encodeToken(request.keyOf(page[page.length - 1])) : undefined,
  };
}

/** Sorts a copy of `items` by the key used for pagination. */
export function sortedBy<T>(items: Iterable<T>, keyOf: (item: T) => string): T[] {
  return [...items].sort((a, b) => {
    const ka = keyOf(a);
    const kb = keyOf(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
}
