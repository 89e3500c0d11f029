import { useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiError, get, post, type UrlEndpoint } from '../lib/api';
import { useLoad, useTitle } from '../lib/hooks';
import { ErrorBox, Field, PageHeader } from '../components/ui';

interface PurgeRequest {
  url: string;
  requestId: string;
  status: 'Pending' | 'Completed' | 'unknown';
  error?: string;
  startedAt: number;
}

const POLL_MS = 1000;
const POLL_LIMIT_MS = 10 * 60 * 1000;

export function PurgePage() {
  useTitle('Purge cache');
  const endpoints = useLoad(() => get<UrlEndpoint[]>('/v1/accounts/url-endpoints'));
  const [url, setUrl] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [requests, setRequests] = useState<PurgeRequest[]>([]);
  const timers = useRef<number[]>([]);

  useEffect(() => () => timers.current.forEach((t) => window.clearTimeout(t)), []);

  const poll = (requestId: string, startedAt: number) => {
    const tick = async () => {
      let status: PurgeRequest['status'] = 'Pending';
      let err: string | undefined;
      try {
        const res = await get<{ status: string }>(`/v1/files/purge/${encodeURIComponent(requestId)}`);
        status = res.status === 'Completed' ? 'Completed' : 'Pending';
      } catch (e) {
        err = e instanceof Error ? e.message : String(e);
        if (e instanceof ApiError && e.status === 404) status = 'unknown';
      }
      setRequests((rs) => rs.map((r) => (r.requestId === requestId ? { ...r, status, error: err } : r)));
      if (status === 'Pending' && Date.now() - startedAt < POLL_LIMIT_MS) {
        timers.current.push(window.setTimeout(tick, POLL_MS));
      }
    };
    void tick();
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await post<{ requestId: string }>('/v1/files/purge', { url: url.trim() });
      const startedAt = Date.now();
      setRequests((rs) => [{ url: url.trim(), requestId: res.requestId, status: 'Pending', startedAt }, ...rs]);
      setUrl('');
      poll(res.requestId, startedAt);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const example = endpoints.data?.find((e) => e.id === 'default')?.urlEndpoint ?? 'http://EDGE/your-account';
  const fieldError = error instanceof ApiError && error.field === 'url' ? error.message : undefined;

  return (
    <div>
      <PageHeader title="Purge cache" />
      <p className="lead">
        Purging removes an image — its original and every transformed variant — from every edge and from the shared cache. The next request fetches it from
        the origin again.
      </p>
      <form onSubmit={submit} noValidate className="form">
        <Field
          label="Image URL, or a prefix ending with *"
          type="url"
          value={url}
          onChange={setUrl}
          error={fieldError}
          placeholder={`${example}/products/shoe.jpg`}
          help={
            <>
              <code>{example}/products/shoe.jpg</code> purges that image (with or without <code>tr</code>); <code>{example}/products/*</code> purges everything
              under <code>products/</code>.
            </>
          }
        />
        <ErrorBox error={fieldError ? null : error} />
        <button type="submit" disabled={busy || !url.trim()}>
          {busy ? 'Purging…' : 'Purge'}
        </button>
      </form>
      {requests.length > 0 && (
        <section aria-labelledby="purges-title">
          <h2 id="purges-title">Purges from this page</h2>
          <div className="table-wrap">
            <table className="stack">
              <thead>
                <tr>
                  <th scope="col">URL</th>
                  <th scope="col">Request id</th>
                  <th scope="col">Status</th>
                </tr>
              </thead>
              <tbody aria-live="polite">
                {requests.map((r) => (
                  <tr key={r.requestId}>
                    <td data-label="URL" className="mono break">
                      {r.url}
                    </td>
                    <td data-label="Request id" className="mono">
                      {r.requestId}
                    </td>
                    <td data-label="Status" data-testid="purge-status">
                      <span className={`status status-${r.status.toLowerCase()}`}>{r.status}</span>
                      {r.status === 'Pending' && <span className="muted"> — waiting for every connected edge to apply it</span>}
                      {r.error && <span className="field-error"> ({r.error}; retrying)</span>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
    </div>
  );
}
