import { useState } from 'react';
import { Link, useLocation, useNavigate } from 'react-router';
import { ApiError, del, get, type Origin, type UrlEndpoint } from '../lib/api';
import { azureLocation, isAzureBlob, isObjectStorage, originSource, originTypeName, s3Location } from '../lib/origin';
import { useLoad, useTitle } from '../lib/hooks';
import { ConfirmButton, CopyButton, ErrorBox, Loading, Notice, PageHeader } from '../components/ui';

interface LoadedData {
  origins: Origin[];
  endpoints: UrlEndpoint[];
}

/** The example sentence after the first origin: where an image now lives on Pictor. */
export function exampleMapping(origin: Origin, endpoint: UrlEndpoint) {
  if (origin.type === 'WEB_PROXY') {
    // A web proxy takes the image's whole URL as the path.
    const host = origin.allowedHosts?.[0]?.replace(/^\*\./, 'images.') ?? 'images.example.com';
    const from = `https://${host}/rest-of-the-path.jpg`;
    return { from, to: endpoint.urlEndpoint.replace(/\/+$/, '') + '/' + from };
  }
  const to = endpoint.urlEndpoint.replace(/\/+$/, '') + '/rest-of-the-path.jpg';
  if (isObjectStorage(origin.type)) {
    // A bucket: the path after the endpoint is the key after the folder.
    return { from: s3Location(origin) + '/rest-of-the-path.jpg', to };
  }
  if (isAzureBlob(origin.type)) {
    // A container: the path after the endpoint is the blob name after the folder.
    return { from: azureLocation(origin) + '/rest-of-the-path.jpg', to };
  }
  const from = (origin.baseUrl ?? '').replace(/\/+$/, '') + '/rest-of-the-path.jpg';
  return { from, to };
}


export function OriginsPage() {
  useTitle('Origins');
  const location = useLocation();
  const navigate = useNavigate();
  const state = (location.state ?? {}) as { welcomeKey?: string; saved?: string };
  const [welcomeKey, setWelcomeKey] = useState(state.welcomeKey ?? '');
  const [saved, setSaved] = useState(state.saved ?? '');
  const [deleteError, setDeleteError] = useState<unknown>(null);
  const load = useLoad<LoadedData>(async () => {
    const [origins, endpoints] = await Promise.all([get<Origin[]>('/v1/accounts/origins'), get<UrlEndpoint[]>('/v1/accounts/url-endpoints')]);
    return { origins, endpoints };
  });

  const remove = async (o: Origin) => {
    setDeleteError(null);
    try {
      await del(`/v1/accounts/origins/${encodeURIComponent(o.id)}`);
      setSaved(`Deleted origin “${o.name}”.`);
      load.reload();
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) {
        const users = (load.data?.endpoints ?? []).filter((ep) => ep.origins.includes(o.id));
        const names = users.map((ep) => (ep.urlPrefix ? `/${ep.urlPrefix}` : 'the default endpoint') + (ep.description ? ` (${ep.description})` : ''));
        setDeleteError(
          new ApiError(
            409,
            `“${o.name}” is still used by ${names.length ? names.join(', ') : 'a URL-endpoint'}. Remove it from ${
              names.length > 1 ? 'those URL-endpoints' : 'that URL-endpoint'
            } first (URL-endpoints → edit), then delete it.`,
            e.message,
          ),
        );
      } else {
        setDeleteError(e);
      }
    }
  };

  const origins = load.data?.origins ?? [];
  const endpoints = load.data?.endpoints ?? [];
  const defaultEndpoint = endpoints.find((e) => e.id === 'default');
  const firstOnDefault = defaultEndpoint ? origins.find((o) => o.id === defaultEndpoint.origins[0]) : undefined;

  return (
    <div>
      <PageHeader title="Origins">
        <button type="button" onClick={() => navigate('/origins/new')}>
          Add origin
        </button>
      </PageHeader>
      <p className="lead">An origin is where your images already live: a web server, or an Amazon S3 or S3-compatible bucket. Pictor fetches an image from it the first time someone asks for it, then transforms and caches it.</p>
      {welcomeKey && (
        <Notice kind="success" onDismiss={() => setWelcomeKey('')}>
          <p>
            <strong>Welcome to Pictor.</strong> This is your account’s first private API key. It is shown this once: keep it somewhere safe (it signs URLs and
            authenticates the REST API).
          </p>
          <p className="secret">
            <code data-testid="welcome-key">{welcomeKey}</code> <CopyButton text={welcomeKey} />
          </p>
        </Notice>
      )}
      {saved && (
        <Notice kind="success" onDismiss={() => setSaved('')}>
          {saved}
        </Notice>
      )}
      <ErrorBox error={deleteError} title="Could not delete" />
      {load.loading && !load.data ? (
        <Loading what="Loading origins" />
      ) : load.error ? (
        <ErrorBox error={load.error} onRetry={load.reload} title="Could not load origins" />
      ) : origins.length === 0 ? (
        <div className="empty">
          <p>No origins yet. Add the web server or bucket your images live on, and Pictor serves them resized at once.</p>
          <button type="button" onClick={() => navigate('/origins/new')}>
            Add your first origin
          </button>
        </div>
      ) : (
        <>
          <div className="table-wrap">
            <table className="stack">
              <caption className="visually-hidden">Origins</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Type</th>
                  <th scope="col">Source</th>
                  <th scope="col">Options</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {origins.map((o) => (
                  <tr key={o.id}>
                    <td data-label="Name">{o.name}</td>
                    <td data-label="Type">{originTypeName(o.type)}</td>
                    <td data-label="Source" className="mono break">
                      {originSource(o)}
                    </td>
                    <td data-label="Options">
                      {[o.includeCanonicalHeader && 'canonical header', o.forwardHostHeaderToOrigin && 'forwards Host'].filter(Boolean).join(', ') || '—'}
                    </td>
                    <td className="actions">
                      <Link className="button secondary" to={`/origins/${encodeURIComponent(o.id)}/edit`} aria-label={`Edit ${o.name}`}>
                        Edit
                      </Link>
                      <ConfirmButton label="Delete" confirmLabel="Delete origin" question={`Delete “${o.name}”?`} onConfirm={() => remove(o)} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {defaultEndpoint && (
            <section className="card" aria-labelledby="default-endpoint-title">
              <h2 id="default-endpoint-title">Your default URL-endpoint</h2>
              <p>
                <code className="mono" data-testid="default-endpoint-url">
                  {defaultEndpoint.urlEndpoint}
                </code>{' '}
                <CopyButton text={defaultEndpoint.urlEndpoint} />
              </p>
              {firstOnDefault ? (
                <p data-testid="example-mapping">
                  Your image <code className="break">{exampleMapping(firstOnDefault, defaultEndpoint).from}</code> is now{' '}
                  <code className="break">{exampleMapping(firstOnDefault, defaultEndpoint).to}</code>. Add <code>tr:w-300</code> to the path (or{' '}
                  <code>?tr=w-300</code>) to resize it — try the <Link to="/builder">URL builder</Link>.
                </p>
              ) : (
                <p>
                  The default URL-endpoint has no origin yet: add one on its <Link to="/endpoints/default">URL-endpoint page</Link>.
                </p>
              )}
              {defaultEndpoint.origins.length > 1 && (
                <p className="muted">It tries {defaultEndpoint.origins.length} origins in order; change the order on the URL-endpoints page.</p>
              )}
            </section>
          )}
        </>
      )}
    </div>
  );
}
