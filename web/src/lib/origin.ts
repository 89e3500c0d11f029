import type { Origin } from './api';

/** Whether the origin type is a bucket read through the S3 API (S3 or S3_COMPATIBLE). */
export function isObjectStorage(type: string): boolean {
  return type === 'S3' || type === 'S3_COMPATIBLE';
}

/** Whether the origin type is an Azure Blob Storage container (AZURE_BLOB). */
export function isAzureBlob(type: string): boolean {
  return type === 'AZURE_BLOB';
}

/** An Azure Blob origin's account, container and folder as an azure:// URL, without a trailing slash: azure://account/container/prefix. */
export function azureLocation(o: Pick<Origin, 'accountName' | 'container' | 'prefix'>): string {
  const prefix = (o.prefix ?? '').replace(/^\/+|\/+$/g, '');
  return `azure://${o.accountName ?? ''}/${o.container ?? ''}${prefix ? '/' + prefix : ''}`;
}

/** An S3 origin's bucket and folder as an s3:// URL, without a trailing slash: s3://bucket/prefix. */
export function s3Location(o: Pick<Origin, 'bucket' | 'prefix'>): string {
  const prefix = (o.prefix ?? '').replace(/^\/+|\/+$/g, '');
  return `s3://${o.bucket ?? ''}${prefix ? '/' + prefix : ''}`;
}

/** The host (and port) of an S3-compatible endpoint URL, or the endpoint as given if it is not a URL. */
export function endpointHost(endpoint: string): string {
  try {
    return new URL(endpoint).host || endpoint;
  } catch {
    return endpoint;
  }
}

/**
 * What an origin fetches from, for the list: its base URL, a web proxy's hosts, a bucket (and its endpoint's host)
 * or an Azure container.
 */
export function originSource(o: Origin): string {
  if (isAzureBlob(o.type)) return azureLocation(o);
  if (isObjectStorage(o.type)) {
    const where = s3Location(o);
    return o.type === 'S3_COMPATIBLE' && o.endpoint ? `${where} on ${endpointHost(o.endpoint)}` : where;
  }
  if (o.type !== 'WEB_PROXY') return o.baseUrl ?? '';
  return o.allowedHosts && o.allowedHosts.length > 0 ? `URLs on ${o.allowedHosts.join(', ')}` : 'any public URL';
}

const typeNames: Record<string, string> = {
  WEB_FOLDER: 'Web server',
  WEB_PROXY: 'Web proxy',
  S3: 'Amazon S3',
  S3_COMPATIBLE: 'S3-compatible',
  AZURE_BLOB: 'Azure Blob',
};

/** The dashboard's name for an origin type. */
export function originTypeName(type: string): string {
  return typeNames[type] ?? type;
}
