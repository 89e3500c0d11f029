import { useEffect, useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { ApiError, fieldErrors, get, post, put, type Origin, type UrlEndpoint, type UrlEndpointInput } from '../lib/api';
import { dnsRecordFor } from '../lib/format';
import { useLoad, useTitle } from '../lib/hooks';
import { OriginOrder } from '../components/OriginOrder';
import { useSession } from '../components/session';
import { Checkbox, ErrorBox, Field, Loading, PageHeader } from '../components/ui';

const blank: UrlEndpointInput = { description: '', urlPrefix: '', origins: [], customDomains: [], restrictUnsignedUrls: false };

/** Create a URL-endpoint, or edit one (the default one included). */
export function EndpointFormPage() {
  const { id } = useParams();
  const editing = id !== undefined && id !== 'new';
  useTitle(editing ? 'Edit URL-endpoint' : 'New URL-endpoint');
  const navigate = useNavigate();
  const { config, me } = useSession();
  const [form, setForm] = useState<UrlEndpointInput>(blank);
  const [domain, setDomain] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const load = useLoad(async () => {
    const [origins, endpoint] = await Promise.all([
      get<Origin[]>('/v1/accounts/origins'),
      editing ? get<UrlEndpoint>(`/v1/accounts/url-endpoints/${encodeURIComponent(id!)}`) : Promise.resolve(null),
    ]);
    return { origins, endpoint };
  }, [id]);

  useEffect(() => {
    const ep = load.data?.endpoint;
    if (ep) {
      setForm({
        description: ep.description,
        urlPrefix: ep.urlPrefix,
        origins: ep.origins,
        customDomains: ep.customDomains,
        restrictUnsignedUrls: ep.restrictUnsignedUrls,
      });
    }
  }, [load.data]);

  const isDefault = load.data?.endpoint?.id === 'default';
  const set = <K extends keyof UrlEndpointInput>(k: K) => (v: UrlEndpointInput[K]) => setForm((f) => ({ ...f, [k]: v }));

  const addDomain = () => {
    const d = domain.trim().toLowerCase().replace(/\.$/, '');
    if (d && !form.customDomains.includes(d)) set('customDomains')([...form.customDomains, d]);
    setDomain('');
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const pending = domain.trim().toLowerCase().replace(/\.$/, '');
    const body: Partial<UrlEndpointInput> = {
      ...form,
      customDomains: pending && !form.customDomains.includes(pending) ? [...form.customDomains, pending] : form.customDomains,
    };
    if (isDefault) delete body.urlPrefix;
    try {
      const saved = editing
        ? await put<UrlEndpoint>(`/v1/accounts/url-endpoints/${encodeURIComponent(id!)}`, body)
        : await post<UrlEndpoint>('/v1/accounts/url-endpoints', body);
      navigate('/endpoints', { state: { saved: `Saved URL-endpoint ${saved.urlEndpoint}.` } });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  if (load.loading && !load.data) return <Loading what="Loading" />;
  if (load.error) {
    return (
      <div>
        <PageHeader title={editing ? 'Edit URL-endpoint' : 'New URL-endpoint'} />
        <ErrorBox error={load.error} onRetry={load.reload} title="Could not load" />
        <p>
          <Link to="/endpoints">Back to URL-endpoints</Link>
        </p>
      </div>
    );
  }

  const fe = fieldErrors(error);
  const shown = ['description', 'urlPrefix', 'origins', 'customDomains'];
  const general = error && !(error instanceof ApiError && shown.includes(error.field)) ? error : null;
  const preview = `${config.edgeUrl.replace(/\/+$/, '')}/${me?.account.id ?? 'your-account'}/${form.urlPrefix || 'prefix'}`;

  return (
    <div>
      <PageHeader title={editing ? (isDefault ? 'Default URL-endpoint' : 'Edit URL-endpoint') : 'New URL-endpoint'} />
      <form onSubmit={submit} noValidate className="form">
        <Field label="Description" value={form.description} onChange={set('description')} error={fe.description} placeholder="Product photos" />
        {isDefault ? (
          <p>
            URL: <code className="mono">{load.data!.endpoint!.urlEndpoint}</code> (the default URL-endpoint has no prefix and cannot be deleted)
          </p>
        ) : (
          <Field
            label="URL prefix"
            required
            value={form.urlPrefix}
            onChange={set('urlPrefix')}
            error={fe.urlPrefix}
            placeholder="products"
            help={
              <>
                One path segment of letters, digits and '-'. Images are then at <code>{preview}/…</code>
                {editing && ' — changing it moves every image URL of this endpoint.'}
              </>
            }
          />
        )}
        <OriginOrder origins={load.data!.origins} value={form.origins} onChange={set('origins')} error={fe.origins} />
        {load.data!.origins.length === 0 && (
          <p>
            You have no origins yet: <Link to="/origins/new">add one</Link> first.
          </p>
        )}

        <fieldset>
          <legend>Custom domains</legend>
          <p className="muted">Serve this endpoint's images from your own domain, e.g. images.example.com; the path then starts right after the host.</p>
          {form.customDomains.length > 0 && (
            <ul className="domains">
              {form.customDomains.map((d) => {
                const rec = dnsRecordFor(d, config.edgeUrl);
                return (
                  <li key={d}>
                    <div>
                      <strong className="mono">{d}</strong>{' '}
                      <button type="button" className="danger-outline small" onClick={() => set('customDomains')(form.customDomains.filter((x) => x !== d))} aria-label={`Remove ${d}`}>
                        Remove
                      </button>
                    </div>
                    <p className="dns" data-testid="dns-record">
                      Create this DNS record at your DNS provider: <code>{`${rec.name}. ${rec.type} ${rec.value}`}</code>
                      {rec.type !== 'CNAME' && ' (the edges are reached by address here, so it is an address record rather than a CNAME)'}
                    </p>
                    <p className="muted">
                      Then images are at <code>http://{d}/tr:w-300/your-image.jpg</code>. HTTPS for the domain is set up where TLS ends (load balancer or ingress).
                    </p>
                  </li>
                );
              })}
            </ul>
          )}
          <div className="inline-form">
            <Field
              label="Add a domain"
              value={domain}
              onChange={setDomain}
              placeholder="images.example.com"
              error={fe.customDomains}
              onKeyDown={(e) => {
                if (e.key === 'Enter') {
                  e.preventDefault();
                  addDomain();
                }
              }}
            />
            <button type="button" className="secondary" onClick={addDomain} disabled={!domain.trim()}>
              Add domain
            </button>
          </div>
        </fieldset>

        <Checkbox
          label="Restrict unsigned URLs"
          checked={form.restrictUnsignedUrls}
          onChange={set('restrictUnsignedUrls')}
          help="Every image URL must then carry a signature (ik-s) made with one of your private API keys; unsigned URLs answer 401. The URL builder signs URLs for you."
        />
        {!form.restrictUnsignedUrls && load.data!.origins.some((o) => o.type === 'WEB_PROXY' && form.origins.includes(o.id)) && (
          <p className="notice" role="note" data-testid="proxy-signing-advice">
            This URL-endpoint uses a web proxy: without signed URLs anyone can have it fetch and resize images from
            {load.data!.origins.some((o) => o.type === 'WEB_PROXY' && form.origins.includes(o.id) && !(o.allowedHosts ?? []).length)
              ? ' any public host'
              : ' its allowed hosts'}
            . Restricting unsigned URLs is recommended.
          </p>
        )}
        <ErrorBox error={general} />
        <div className="form-actions">
          <button type="submit" disabled={busy}>
            {busy ? 'Saving…' : editing ? 'Save URL-endpoint' : 'Create URL-endpoint'}
          </button>
          <Link className="button secondary" to="/endpoints">
            Cancel
          </Link>
        </div>
      </form>
    </div>
  );
}
