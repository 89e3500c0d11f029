// Image URLs on a URL-endpoint (DESIGN §3) and their signatures (DESIGN §4).

export type UrlForm = 'path' | 'query';

/** The endpoint's base URL without a trailing slash, as a browser writes it. */
export function normalizeEndpoint(endpoint: string): string {
  return new URL(endpoint).href.replace(/\/+$/, '');
}

/** Splits "folder/a.jpg?v=2" into the path without leading slashes and the query. */
function splitPath(path: string): { p: string; q: string } {
  const trimmed = path.trim().replace(/^\/+/, '');
  const i = trimmed.indexOf('?');
  if (i < 0) return { p: trimmed, q: '' };
  return { p: trimmed.slice(0, i), q: trimmed.slice(i + 1) };
}

/**
 * The URL of imagePath on the endpoint with transformation tr, in path form
 * (`/tr:{tr}/{path}`) or query form (`{path}?tr={tr}`). The result is what a
 * browser sends on the wire (non-ASCII and spaces percent-encoded), so a
 * signature computed over it verifies at the edge.
 */
export function buildImageUrl(endpoint: string, imagePath: string, tr: string, form: UrlForm): string {
  const base = normalizeEndpoint(endpoint);
  const { p, q } = splitPath(imagePath);
  const steps = tr.trim().replace(/^tr:/, '');
  let raw: string;
  if (steps === '') {
    raw = `${base}/${p}${q ? '?' + q : ''}`;
  } else if (form === 'path') {
    raw = `${base}/tr:${steps}/${p}${q ? '?' + q : ''}`;
  } else {
    raw = `${base}/${p}?${q ? q + '&' : ''}tr=${steps}`;
  }
  return new URL(raw).href;
}

/** The untouched source image through the edge (orig-true), to compare sizes against. */
export function originalImageUrl(endpoint: string, imagePath: string): string {
  return buildImageUrl(endpoint, imagePath, 'orig-true', 'path');
}

/** The constant ImageKit signs in place of an expiry. */
export const NO_EXPIRY = '9999999999';

/**
 * The string to sign: the URL after "{endpoint}/", with ik-s and ik-t
 * removed and no dangling ? or &, followed by the expiry.
 */
export function stringToSign(endpoint: string, url: string, expires?: number): string {
  const base = normalizeEndpoint(endpoint) + '/';
  const href = new URL(url).href;
  if (!href.startsWith(base)) {
    throw new Error(`the URL does not start with its endpoint ${base}`);
  }
  let target = href.slice(base.length);
  const qi = target.indexOf('?');
  if (qi >= 0) {
    const kept = target
      .slice(qi + 1)
      .split('&')
      .filter((kv) => kv !== '' && !/^ik-[st](=|$)/.test(kv));
    target = target.slice(0, qi) + (kept.length ? '?' + kept.join('&') : '');
  }
  return target + (expires === undefined ? NO_EXPIRY : String(expires));
}

/** Lower-case hex HMAC-SHA1 of message under key, with the browser's WebCrypto. */
export async function hmacSha1Hex(key: string, message: string): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) {
    throw new Error('this browser offers no WebCrypto here (it needs HTTPS or localhost) to sign URLs');
  }
  const enc = new TextEncoder();
  const k = await subtle.importKey('raw', enc.encode(key), { name: 'HMAC', hash: 'SHA-1' }, false, ['sign']);
  const sig = new Uint8Array(await subtle.sign('HMAC', k, enc.encode(message)));
  return Array.from(sig, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Signs url (on endpoint) with a private key as ImageKit's SDKs do: ik-t
 * (when it expires) then ik-s appended to the query.
 */
export async function signImageUrl(endpoint: string, url: string, privateKey: string, expires?: number): Promise<string> {
  const href = new URL(url).href;
  const signature = await hmacSha1Hex(privateKey, stringToSign(endpoint, href, expires));
  const sep = href.includes('?') ? '&' : '?';
  const t = expires === undefined ? '' : `ik-t=${expires}&`;
  return `${href}${sep}${t}ik-s=${signature}`;
}
