import { useState } from 'react';
import { Link, useLocation, useNavigate } from 'react-router';
import { del, get, type Origin, type UrlEndpoint } from '../lib/api';
import { useLoad, useTitle } from '../lib/hooks';
import { ConfirmButton, ErrorBox, Loading, Notice, PageHeader } from '../components/ui';

export function EndpointsPage() {
  useTitle('URL-endpoints');
  const navigate = useNavigate();
  const location = useLocation();
  const [saved, setSaved] = useState(((location.state ?? {}) as { saved?: string }).saved ?? '');
  const [deleteError, setDeleteError] = useState<unknown>(null);
  const load = useLoad(async () => {
    const [endpoints, origins] = await Promise.all([get<UrlEndpoint[]>('/v1/accounts/url-endpoints'), get<Origin[]>('/v1/accounts/origins')]);
    return { endpoints, origins };
  });
  const originName = (id: string) => load.data?.origins.find((o) => o.id === id)?.name ?? id;

  const remove = async (ep: UrlEndpoint) => {
    setDeleteError(null);
    try {
      await del(`/v1/accounts/url-endpoints/${encodeURIComponent(ep.id)}`);
      setSaved(`Deleted URL-endpoint /${ep.urlPrefix}.`);
      load.reload();
    } catch (e) {
      setDeleteError(e);
    }
  };

  return (
    <div>
      <PageHeader title="URL-endpoints">
        <button type="button" onClick={() => navigate('/endpoints/new')}>
          New URL-endpoint
        </button>
      </PageHeader>
      <p className="lead">
        A URL-endpoint is a base URL for your images. It tries its origins in order: an image missing on the first (404, 403, 410) is looked for on the next.
      </p>
      {saved && (
        <Notice kind="success" onDismiss={() => setSaved('')}>
          {saved}
        </Notice>
      )}
      <ErrorBox error={deleteError} title="Could not delete" />
      {load.loading && !load.data ? (
        <Loading what="Loading URL-endpoints" />
      ) : load.error ? (
        <ErrorBox error={load.error} onRetry={load.reload} title="Could not load URL-endpoints" />
      ) : (
        <div className="table-wrap">
          <table className="stack">
            <caption className="visually-hidden">URL-endpoints</caption>
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">Description</th>
                <th scope="col">Origins, in order</th>
                <th scope="col">Custom domains</th>
                <th scope="col">Signed URLs</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {load.data!.endpoints.map((ep) => (
                <tr key={ep.id} data-testid={`endpoint-${ep.urlPrefix || 'default'}`}>
                  <td data-label="URL" className="mono break">
                    {ep.urlEndpoint}
                    {ep.id === 'default' && <span className="badge">default</span>}
                  </td>
                  <td data-label="Description">{ep.description || '—'}</td>
                  <td data-label="Origins">
                    {ep.origins.length === 0 ? (
                      <span className="warning-text">none: every image is 404</span>
                    ) : (
                      <ol className="compact" data-testid="endpoint-origins">
                        {ep.origins.map((id) => (
                          <li key={id}>{originName(id)}</li>
                        ))}
                      </ol>
                    )}
                  </td>
                  <td data-label="Custom domains" className="break">
                    {ep.customDomains.join(', ') || '—'}
                  </td>
                  <td data-label="Signed URLs">{ep.restrictUnsignedUrls ? 'required' : 'optional'}</td>
                  <td className="actions">
                    <Link className="button secondary" to={`/endpoints/${encodeURIComponent(ep.id)}`} aria-label={`Edit ${ep.urlEndpoint}`}>
                      Edit
                    </Link>
                    <Link className="button secondary" to={`/builder?endpoint=${encodeURIComponent(ep.id)}`} aria-label={`Build URLs on ${ep.urlEndpoint}`}>
                      Build URLs
                    </Link>
                    {ep.id !== 'default' && (
                      <ConfirmButton label="Delete" confirmLabel="Delete URL-endpoint" question={`Delete ${ep.urlEndpoint}? Its image URLs stop working.`} onConfirm={() => remove(ep)} />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
