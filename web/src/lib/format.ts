// Small formatting helpers shared by the pages.

/** 1536 → "1.5 KB" (powers of 1024, as browsers' dev tools show sizes). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '—';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB', 'PB'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < units.length - 1);
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

/** The share saved by a variant against its original, e.g. "-82%"; "" when unknown. */
export function formatSaving(bytes: number, originalBytes: number): string {
  if (!(originalBytes > 0) || !(bytes >= 0)) return '';
  const pct = Math.round((1 - bytes / originalBytes) * 100);
  if (pct > 0) return `${pct}% smaller than the original`;
  if (pct < 0) return `${-pct}% larger than the original`;
  return 'the same size as the original';
}

export function formatNumber(n: number): string {
  return new Intl.NumberFormat('en').format(n);
}

/** "YYYY-MM-DD" of a Date in UTC. */
export function utcDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** d plus n days. */
export function addDays(d: Date, n: number): Date {
  const r = new Date(d.getTime());
  r.setUTCDate(r.getUTCDate() + n);
  return r;
}

export function formatDateTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

/** The image format a Content-Type names: "image/webp" → "WebP". */
export function formatName(contentType: string | null): string {
  const t = (contentType ?? '').split(';')[0].trim().toLowerCase();
  const names: Record<string, string> = {
    'image/jpeg': 'JPEG',
    'image/png': 'PNG',
    'image/webp': 'WebP',
    'image/avif': 'AVIF',
    'image/gif': 'GIF',
  };
  return names[t] ?? (t || 'unknown');
}

/** The DNS record that points a custom domain at the edges. */
export function dnsRecordFor(domain: string, edgeUrl: string): { type: string; name: string; value: string } {
  let host = '';
  try {
    host = new URL(edgeUrl).hostname;
  } catch {
    host = edgeUrl;
  }
  const bare = host.replace(/^\[|\]$/g, '');
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(bare)) return { type: 'A', name: domain, value: bare };
  if (bare.includes(':')) return { type: 'AAAA', name: domain, value: bare };
  return { type: 'CNAME', name: domain, value: bare.endsWith('.') ? bare : bare + '.' };
}
