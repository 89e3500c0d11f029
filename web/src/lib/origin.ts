import type { Origin } from './api';

/** What an origin fetches from, for the list: its base URL, or a web proxy's hosts. */
export function originSource(o: Origin): string {
  if (o.type !== 'WEB_PROXY') return o.baseUrl ?? '';
  return o.allowedHosts && o.allowedHosts.length > 0 ? `URLs on ${o.allowedHosts.join(', ')}` : 'any public URL';
}

/** The dashboard's name for an origin type. */
export function originTypeName(type: string): string {
  return type === 'WEB_FOLDER' ? 'Web server' : type === 'WEB_PROXY' ? 'Web proxy' : type;
}
