// Wording for the delivery errors the edges report (Not-found help page).

import type { Origin, UrlEndpoint } from './api';

const REASONS: Record<string, string> = {
  // Coarse reasons edges derive from the status.
  not_found: 'Not found on any origin',
  unprocessable: 'The original could not be processed (not a supported image, or corrupt)',
  bad_gateway: 'An origin answered with an error or could not be reached',
  timeout: 'An origin did not answer in time',
  // Finer reasons (errkind) an edge may send.
  origin_status: 'An origin answered with an error status',
  origin_timeout: 'An origin did not answer in time',
  source_corrupt: 'The original is corrupt or not a supported image',
  image_path_missing: 'The URL names no image path',
};

const BY_STATUS: Record<number, string> = {
  404: 'Not found on any origin',
  422: 'The original could not be processed',
  502: 'An origin failed',
  504: 'An origin timed out',
};

/** The reason of a delivery error in words; unknown reasons fall back on the status. */
export function describeReason(reason: string, status: number): string {
  return REASONS[reason] ?? BY_STATUS[status] ?? (reason ? reason.replace(/_/g, ' ') : `HTTP ${status}`);
}

/** The origins tried, by name, in order; an origin deleted since shows its id. */
export function originNames(ids: string[], origins: Origin[] | undefined): string[] {
  const byId = new Map((origins ?? []).map((o) => [o.id, o.name]));
  return ids.map((id) => byId.get(id) ?? (origins ? `deleted origin ${id}` : id));
}

/** The image path as the request named it, with its leading slash. */
export function displayPath(path: string): string {
  return path.startsWith('/') ? path : `/${path}`;
}

/** How long ago iso was, coarsely: "just now", "5 min ago", "3 h ago", "2 days ago". */
export function formatAgo(iso: string, now: Date = new Date()): string {
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.round((now.getTime() - t) / 1000));
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  const d = Math.floor(s / 86400);
  return d === 1 ? '1 day ago' : `${d} days ago`;
}

/**
 * Which URL-endpoint an error was on, when it is worth saying: "" for the
 * default endpoint, "endpoint /shop" for a prefixed one, the id for one
 * not (or no longer) listed.
 */
export function endpointLabel(id: string, endpoints: UrlEndpoint[] | undefined): string {
  if (id === 'default') return '';
  const e = endpoints?.find((x) => x.id === id);
  if (!e) return endpoints ? `deleted endpoint ${id}` : '';
  return e.urlPrefix ? `endpoint /${e.urlPrefix}` : '';
}
