// Wording for an origin test (POST /v1/accounts/origins/test): what the
// control plane fetched from the origin, before the origin is saved.

import { formatBytes } from './format';

/** The answer of POST /v1/accounts/origins/test. */
export interface OriginTestResult {
  /** The URL fetched. */
  url: string;
  /** The origin's HTTP status; 0 when nothing was received. */
  status: number;
  contentType: string;
  bytes: number;
  /** The format sniffed from the bytes, e.g. "jpeg"; "" when they are not an image. */
  format: string;
  image: boolean;
  elapsedMs: number;
  /** Why the fetch failed (DNS, refused address, timeout), or "". */
  error: string;
}

export interface OriginTestDescription {
  /** True when the origin sent an image: a success, otherwise a warning. */
  ok: boolean;
  message: string;
}

/** "jpeg" → "JPEG"; WebP keeps its usual spelling. */
export function formatLabel(format: string): string {
  const f = format.trim().toLowerCase();
  if (f === 'webp') return 'WebP';
  return f.toUpperCase();
}

/** "a JPEG", "an AVIF", "an SVG". */
function withArticle(label: string): string {
  return (/^([AEIOU]|SVG\b|XCF\b|XPM\b)/.test(label) ? 'an ' : 'a ') + label;
}

/** 45 → "45 ms", 1234 → "1.2 s". */
export function formatElapsed(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (Math.round(ms) < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

const STATUS_REASONS: Record<number, string> = {
  400: 'the origin rejected the request',
  401: 'the origin asks for authentication',
  403: 'the origin refused access (does it block Pictor’s addresses?)',
  404: 'not found on this origin',
  410: 'gone from this origin',
  429: 'the origin is rate-limiting requests',
  500: 'the origin failed',
  502: 'the origin (or a proxy in front of it) failed',
  503: 'the origin is unavailable',
  504: 'the origin (or a proxy in front of it) timed out',
};

/** What a bucket's or container's refusal usually means. */
const STORAGE_REASONS: Record<number, string> = {
  400: 'the storage service rejected the request (check the bucket or container name and the endpoint)',
  403: 'the storage service refused access: check the access key and secret (or SAS token), and that they may read this bucket or container',
  404: 'no such object in this bucket or container (or no such bucket or container)',
};

function statusReason(status: number, storage: boolean): string {
  if (storage && STORAGE_REASONS[status]) return STORAGE_REASONS[status];
  if (STATUS_REASONS[status]) return STATUS_REASONS[status];
  if (status >= 300 && status < 400) return 'a redirect that was not followed';
  if (status >= 500) return 'the origin failed';
  return 'the origin answered with an error';
}

/** What an origin test found, in one line. storage: the origin is a bucket or container. */
export function describeOriginTest(r: OriginTestResult, storage = false): OriginTestDescription {
  const from = r.url ? ` from ${r.url}` : '';
  if (r.image) {
    const what = r.format ? `${withArticle(formatLabel(r.format))} image` : 'an image';
    const parts = [`Got ${what}`];
    if (Number.isFinite(r.bytes) && r.bytes >= 0) parts.push(formatBytes(r.bytes));
    const took = formatElapsed(r.elapsedMs);
    return { ok: true, message: parts.join(', ') + (took ? `, in ${took}` : '') + from };
  }
  if (!r.status) {
    const why = r.error.trim();
    if (!why) return { ok: false, message: `No answer${from}.` };
    return { ok: false, message: r.url && !why.includes(r.url) ? `${why} (${r.url})` : why };
  }
  const head = `HTTP ${r.status}${from}`;
  if (r.status < 200 || r.status >= 300) return { ok: false, message: `${head} — ${statusReason(r.status, storage)}` };
  if (r.error.trim()) return { ok: false, message: `${head} but the fetch failed: ${r.error.trim()}` };
  const type = r.contentType.trim() || 'no Content-Type';
  return { ok: false, message: `${head} but it is not an image (${type})` };
}
