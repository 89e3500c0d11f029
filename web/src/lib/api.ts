// The control plane's REST API (DESIGN §8), called with the session cookie.

export interface DashboardConfig {
  edgeUrl: string;
  signupEnabled: boolean;
  egressAddresses: string[];
  reqFromHeader: string;
}

export interface Account {
  id: string;
  name: string;
  ownerEmail: string;
  status: string;
  createdAt: string;
}

export interface Me {
  account: Account;
  email: string;
}

export interface Origin {
  id: string;
  /**
   * WEB_FOLDER (a web server under baseUrl), WEB_PROXY (the image path is the URL),
   * S3 (an Amazon S3 bucket), S3_COMPATIBLE (a bucket on another S3 API endpoint) or
   * AZURE_BLOB (a container in an Azure Blob Storage account).
   */
  type: string;
  name: string;
  /** Web server only. */
  baseUrl?: string;
  forwardHostHeaderToOrigin: boolean;
  includeCanonicalHeader: boolean;
  baseUrlForCanonicalHeader: string;
  /** Web proxy only (a Pictor extension): the hosts it may fetch from; empty means any public host. */
  allowedHosts?: string[];
  /** S3 and S3-compatible only: the bucket. */
  bucket?: string;
  /**
   * S3, S3-compatible and Azure Blob only: the folder (key or blob name prefix) inside the bucket or container,
   * without a leading slash; may be empty.
   */
  prefix?: string;
  /** S3 and S3-compatible only: the access key id (the secret key is never returned). */
  accessKey?: string;
  /** S3-compatible only: the storage service's URL, e.g. https://s3.eu-central-1.wasabisys.com. */
  endpoint?: string;
  /** S3-compatible only: bucket in the path (endpoint/bucket/key) rather than in the host name. */
  s3ForcePathStyle?: boolean;
  /** Azure Blob only: the storage account's name (the mystorage of https://mystorage.blob.core.windows.net). */
  accountName?: string;
  /** Azure Blob only: the container (the SAS token is never returned). */
  container?: string;
}

/**
 * An origin as sent (POST, PUT): an S3 origin's secret key and an Azure Blob origin's SAS token go only this way;
 * empty on a PUT keeps the stored one.
 */
export type OriginInput = Omit<Origin, 'id'> & { secretKey?: string; sasToken?: string };

export interface UrlEndpoint {
  id: string;
  description: string;
  urlPrefix: string;
  origins: string[];
  customDomains: string[];
  restrictUnsignedUrls: boolean;
  urlEndpoint: string;
}

export type UrlEndpointInput = Omit<UrlEndpoint, 'id' | 'urlEndpoint'>;

export interface NamedTransformation {
  id: string;
  name: string;
  transformation: string;
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface ApiKey {
  id: string;
  name: string;
  displayPrefix: string;
  createdAt: string;
}

export interface CreatedApiKey extends ApiKey {
  privateKey: string;
}

export interface UsageDay {
  date: string;
  requests: number;
  bandwidthBytes: number;
  hitsL1: number;
  hitsL2: number;
  misses: number;
  originFetches: number;
  transforms: number;
  status4xx: number;
  status5xx: number;
}

export interface Usage {
  bandwidthBytes: number;
  startDate: string;
  endDate: string;
  requests: number;
  hitsL1: number;
  hitsL2: number;
  misses: number;
  originFetches: number;
  transforms: number;
  status4xx: number;
  status5xx: number;
  days: UsageDay[];
}

/** A failed image request an edge reported (GET /v1/accounts/delivery-errors). */
export interface DeliveryError {
  path: string;
  status: number;
  reason: string;
  originIds: string[];
  endpointId: string;
  occurredAt: string;
}

export interface SignupResult {
  account: Account;
  urlEndpoint: UrlEndpoint;
  privateKey: string;
}

/** An error from the API: its JSON {message, help, field} and HTTP status (0: no answer). */
export class ApiError extends Error {
  readonly status: number;
  readonly help: string;
  readonly field: string;
  constructor(status: number, message: string, help = '', field = '') {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.help = help;
    this.field = field;
  }
}

/** Fired on window when a signed-in request answers 401: the session is gone. */
export const SESSION_LOST_EVENT = 'pictor:session-lost';

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'Cannot reach the Pictor control plane. Check your connection and try again.');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: unknown = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }
  if (!res.ok) {
    const e = (data ?? {}) as { message?: string; help?: string; field?: string };
    const err = new ApiError(res.status, e.message || `The server answered HTTP ${res.status}.`, e.help ?? '', e.field ?? '');
    if (res.status === 401 && !path.startsWith('/v1/auth/')) {
      window.dispatchEvent(new CustomEvent(SESSION_LOST_EVENT));
    }
    throw err;
  }
  if (data === undefined) {
    throw new ApiError(res.status, 'The server sent an answer that is not JSON.');
  }
  return data as T;
}

export const get = <T>(path: string) => api<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, body ?? {});
export const put = <T>(path: string, body: unknown) => api<T>('PUT', path, body);
export const patch = <T>(path: string, body: unknown) => api<T>('PATCH', path, body);
export const del = (path: string) => api<void>('DELETE', path);

/** Field errors from an ApiError, keyed by field, for forms. */
export function fieldErrors(err: unknown): Record<string, string> {
  if (err instanceof ApiError && err.field) return { [err.field]: err.message };
  return {};
}
