import { useEffect, useState } from 'react';
import { formatBytes, formatName, formatSaving } from '../lib/format';
import { ErrorBox, Loading } from './ui';

/** What a browser's <img> sends, so the edge negotiates the format it would for a page. */
export const IMAGE_ACCEPT = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';

interface Fetched {
  objectUrl: string;
  bytes: number;
  contentType: string;
  headers: [string, string][];
  status: number;
}

interface Failure {
  status: number;
  message: string;
  headers: [string, string][];
}

/** The size of the original (orig-true) through the edge: HEAD's Content-Length, else a GET. */
async function originalBytes(url: string, signal: AbortSignal): Promise<number | null> {
  const head = await fetch(url, { method: 'HEAD', headers: { Accept: IMAGE_ACCEPT }, signal });
  if (!head.ok) return null;
  const len = Number(head.headers.get('Content-Length'));
  if (len > 0) return len;
  const res = await fetch(url, { headers: { Accept: IMAGE_ACCEPT }, signal });
  if (!res.ok) return null;
  return (await res.blob()).size;
}

/**
 * The live image from an edge: fetched once (so the bytes, format and headers
 * shown are those of the very response displayed), shown with its natural
 * dimensions and compared with the original.
 */
export function Preview({ url, originalUrl }: { url: string; originalUrl: string | null }) {
  const [result, setResult] = useState<Fetched | null>(null);
  const [failure, setFailure] = useState<Failure | null>(null);
  const [networkError, setNetworkError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const [dims, setDims] = useState<{ w: number; h: number } | null>(null);
  const [orig, setOrig] = useState<number | null | undefined>(undefined);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    if (!url) return;
    const ctrl = new AbortController();
    let objectUrl = '';
    setLoading(true);
    setFailure(null);
    setNetworkError(null);
    setResult(null);
    setDims(null);
    (async () => {
      try {
        const res = await fetch(url, { headers: { Accept: IMAGE_ACCEPT }, signal: ctrl.signal });
        const headers = Array.from(res.headers.entries());
        if (!res.ok) {
          const body = (await res.text()).trim();
          const reason = res.headers.get('X-Pictor-Error') || body || res.statusText;
          setFailure({ status: res.status, message: reason, headers });
          return;
        }
        const blob = await res.blob();
        objectUrl = URL.createObjectURL(blob);
        setResult({ objectUrl, bytes: blob.size, contentType: res.headers.get('Content-Type') ?? blob.type, headers, status: res.status });
      } catch (e) {
        if (!ctrl.signal.aborted) setNetworkError(e);
      } finally {
        if (!ctrl.signal.aborted) setLoading(false);
      }
    })();
    return () => {
      ctrl.abort();
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [url, attempt]);

  useEffect(() => {
    if (!originalUrl) {
      setOrig(null);
      return;
    }
    const ctrl = new AbortController();
    setOrig(undefined);
    originalBytes(originalUrl, ctrl.signal).then(
      (n) => setOrig(n),
      () => {
        if (!ctrl.signal.aborted) setOrig(null);
      },
    );
    return () => ctrl.abort();
  }, [originalUrl, attempt]);

  if (!url) return <p className="muted">Enter an image path to see it.</p>;
  return (
    <section className="preview" aria-labelledby="preview-title" aria-busy={loading}>
      <h2 id="preview-title">Preview</h2>
      {loading && <Loading what="Fetching the image from the edge" />}
      {networkError ? (
        <ErrorBox
          title="The edge did not answer"
          error={new Error(`${networkError instanceof Error ? networkError.message : String(networkError)} — is the edge at this address running and reachable from your browser?`)}
          onRetry={() => setAttempt((a) => a + 1)}
        />
      ) : null}
      {failure && (
        <div className="error-box" role="alert" data-testid="preview-error">
          <strong>The edge answered HTTP {failure.status}:</strong> {failure.message}
          <p className="error-help">
            {failure.status === 404
              ? 'No origin of this URL-endpoint has the image: check the path, and the origins on the URL-endpoint.'
              : failure.status === 401
                ? 'This URL-endpoint requires signed URLs: paste a private key below to sign it.'
                : failure.status === 400
                  ? 'The transformation is not valid; the message names the parameter.'
                  : 'See the response headers below.'}
          </p>
          <button type="button" className="secondary" onClick={() => setAttempt((a) => a + 1)}>
            Try again
          </button>
        </div>
      )}
      {result && (
        <div className="preview-body">
          <div className="preview-image">
            <img
              src={result.objectUrl}
              alt="The transformed image, as the edge serves it"
              data-testid="preview-image"
              onLoad={(e) => setDims({ w: e.currentTarget.naturalWidth, h: e.currentTarget.naturalHeight })}
              onError={() => setFailure({ status: result.status, message: 'the browser could not decode the image', headers: result.headers })}
            />
          </div>
          <dl className="facts">
            <dt>Dimensions</dt>
            <dd data-testid="preview-dimensions">{dims ? `${dims.w} × ${dims.h} px` : '…'}</dd>
            <dt>Format</dt>
            <dd data-testid="preview-format">{formatName(result.contentType)}</dd>
            <dt>Size</dt>
            <dd data-testid="preview-bytes">{formatBytes(result.bytes)}</dd>
            <dt>Original</dt>
            <dd>{orig === undefined ? '…' : orig === null ? 'unknown' : formatBytes(orig)}</dd>
            <dt>Saving</dt>
            <dd data-testid="preview-saving">{orig ? formatSaving(result.bytes, orig) : '—'}</dd>
            <dt>Cache</dt>
            <dd>{result.headers.find(([k]) => k === 'x-cache')?.[1] ?? '—'}</dd>
          </dl>
        </div>
      )}
      {(result || failure) && (
        <details className="headers">
          <summary>Response headers</summary>
          <table>
            <caption className="visually-hidden">Response headers the edge exposes to the dashboard</caption>
            <tbody>
              {(result?.headers ?? failure?.headers ?? []).map(([k, v]) => (
                <tr key={k}>
                  <th scope="row" className="mono">
                    {k}
                  </th>
                  <td className="mono break">{v}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
    </section>
  );
}
