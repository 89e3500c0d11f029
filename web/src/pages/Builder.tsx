import { useEffect, useMemo, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { get, type UrlEndpoint } from '../lib/api';
import { useLoad, useTitle } from '../lib/hooks';
import { buildImageUrl, originalImageUrl, signImageUrl, type UrlForm } from '../lib/imageUrl';
import { buildTransformation, emptyControls, parseTransformation, type Controls } from '../lib/transform';
import { Preview } from '../components/Preview';
import { TransformControls } from '../components/TransformControls';
import { CopyButton, ErrorBox, Field, Loading, Notice, PageHeader, Select } from '../components/ui';

/** Waits until value has not changed for ms. */
function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = window.setTimeout(() => setV(value), ms);
    return () => window.clearTimeout(t);
  }, [value, ms]);
  return v;
}

export function BuilderPage() {
  useTitle('URL builder');
  const [params, setParams] = useSearchParams();
  const endpoints = useLoad(() => get<UrlEndpoint[]>('/v1/accounts/url-endpoints'));
  const endpointId = params.get('endpoint') ?? 'default';
  const [path, setPath] = useState(params.get('path') ?? '');
  const [form, setForm] = useState<UrlForm>('path');
  const [mode, setMode] = useState<'controls' | 'raw'>('controls');
  const [controls, setControls] = useState<Controls>(emptyControls);
  const [raw, setRaw] = useState('');
  const [modeNote, setModeNote] = useState('');
  const [privateKey, setPrivateKey] = useState('');
  const [expiresIn, setExpiresIn] = useState('');
  const [signed, setSigned] = useState<{ url: string; original: string | null } | null>(null);
  const [signError, setSignError] = useState<unknown>(null);

  const endpoint = endpoints.data?.find((e) => e.id === endpointId) ?? endpoints.data?.[0];
  const built = useMemo(() => buildTransformation(controls), [controls]);
  const tr = mode === 'controls' ? built.tr : raw.trim().replace(/^tr:/, '');
  const hasErrors = mode === 'controls' && Object.keys(built.errors).length > 0;

  let url = '';
  let urlError: unknown = null;
  if (endpoint && path.trim()) {
    try {
      url = buildImageUrl(endpoint.urlEndpoint, path, tr, form);
    } catch (e) {
      urlError = e;
    }
  }
  const originalUrl = endpoint && url ? originalImageUrl(endpoint.urlEndpoint, path) : null;
  const needsSignature = endpoint?.restrictUnsignedUrls ?? false;
  const expires = /^\d+$/.test(expiresIn.trim()) && Number(expiresIn) > 0 ? Math.floor(Date.now() / 1000) + Number(expiresIn) : undefined;

  // Sign in the browser (WebCrypto); the key never leaves this page.
  useEffect(() => {
    let cancelled = false;
    setSignError(null);
    if (!endpoint || !url || !privateKey.trim()) {
      setSigned(null);
      return;
    }
    Promise.all([
      signImageUrl(endpoint.urlEndpoint, url, privateKey.trim(), expires),
      originalUrl ? signImageUrl(endpoint.urlEndpoint, originalUrl, privateKey.trim(), expires) : Promise.resolve(null),
    ]).then(
      ([u, o]) => !cancelled && setSigned({ url: u, original: o }),
      (e: unknown) => {
        if (!cancelled) {
          setSigned(null);
          setSignError(e);
        }
      },
    );
    return () => {
      cancelled = true;
    };
    // expires moves with the clock: re-sign when expiresIn changes, not on every render.
  }, [endpoint?.urlEndpoint, url, originalUrl, privateKey, expiresIn]);

  const shownUrl = signed?.url ?? url;
  const previewUrl = useDebounced(hasErrors ? '' : needsSignature && !signed ? '' : shownUrl, 350);
  const previewOriginal = useDebounced(needsSignature ? (signed?.original ?? null) : originalUrl, 350);

  const switchMode = (m: 'controls' | 'raw') => {
    setModeNote('');
    if (m === 'raw') {
      setRaw(built.tr);
      setMode('raw');
      return;
    }
    const parsed = parseTransformation(raw);
    if (parsed) {
      setControls(parsed);
      setMode('controls');
    } else {
      setModeNote('This transformation string uses chained steps or parameters the controls do not cover; keep editing it as text, or clear it to use the controls.');
    }
  };

  if (endpoints.loading && !endpoints.data) return <Loading what="Loading URL-endpoints" />;
  if (endpoints.error) return <ErrorBox error={endpoints.error} onRetry={endpoints.reload} title="Could not load URL-endpoints" />;
  if (!endpoint) return <p>No URL-endpoint. <Link to="/endpoints/new">Create one</Link>.</p>;

  return (
    <div>
      <PageHeader title="URL builder" />
      <p className="lead">Pick a URL-endpoint and an image path, choose transformations, and see the image the edge serves.</p>
      <div className="builder">
        <div className="builder-inputs">
          <div className="grid">
            <Select
              label="URL-endpoint"
              value={endpoint.id}
              onChange={(v) => {
                const next = new URLSearchParams(params);
                next.set('endpoint', v);
                setParams(next, { replace: true });
              }}
              options={endpoints.data!.map((e) => ({ value: e.id, label: e.urlEndpoint + (e.description ? ` — ${e.description}` : '') }))}
            />
            <Field
              label="Image path"
              value={path}
              onChange={setPath}
              placeholder="products/shoe.jpg"
              help="The path of the image on your origin, after its base URL (a query such as ?v=2 is forwarded to the origin)."
            />
          </div>
          {endpoint.origins.length === 0 && (
            <Notice kind="warning">
              This URL-endpoint has no origin, so every image is 404. <Link to={`/endpoints/${encodeURIComponent(endpoint.id)}`}>Add an origin to it</Link>.
            </Notice>
          )}
          <fieldset className="segmented">
            <legend>URL form</legend>
            <label>
              <input type="radio" name="form" checked={form === 'path'} onChange={() => setForm('path')} /> Path (<code>/tr:w-300/image.jpg</code>)
            </label>
            <label>
              <input type="radio" name="form" checked={form === 'query'} onChange={() => setForm('query')} /> Query (<code>image.jpg?tr=w-300</code>)
            </label>
          </fieldset>
          <fieldset className="segmented">
            <legend>Transformations from</legend>
            <label>
              <input type="radio" name="mode" checked={mode === 'controls'} onChange={() => switchMode('controls')} /> Controls
            </label>
            <label>
              <input type="radio" name="mode" checked={mode === 'raw'} onChange={() => switchMode('raw')} /> A transformation string
            </label>
          </fieldset>
          {modeNote && <Notice kind="warning">{modeNote}</Notice>}
          {mode === 'controls' ? (
            <TransformControls value={controls} onChange={setControls} errors={built.errors} />
          ) : (
            <Field
              label="Transformation string (tr)"
              value={raw}
              onChange={setRaw}
              placeholder="w-300,h-200,c-at_max:rt-90"
              help={
                <>
                  <code>,</code> separates parameters, <code>:</code> chains steps; the edge answers 400 naming any parameter it does not know.
                </>
              }
            />
          )}
        </div>
        <div className="builder-output">
          <section aria-labelledby="url-title">
            <h2 id="url-title">URL</h2>
            {urlError ? <ErrorBox error={urlError} /> : null}
            {hasErrors && <p className="field-error">Fix the values marked above to build the URL.</p>}
            {url && !hasErrors ? (
              <div className="url-box">
                <output className="mono break" data-testid="built-url">
                  {shownUrl}
                </output>
                <CopyButton text={shownUrl} label="Copy URL" />
              </div>
            ) : !hasErrors ? (
              <p className="muted">Enter an image path.</p>
            ) : null}
          </section>
          <section aria-labelledby="sign-title" className="card">
            <h2 id="sign-title">Signed URL</h2>
            {needsSignature ? (
              <p>This URL-endpoint restricts unsigned URLs: the edge answers 401 to a URL without a valid signature.</p>
            ) : (
              <p className="muted">Optional here: this URL-endpoint also serves unsigned URLs. A signed URL can expire.</p>
            )}
            <Field
              label="Private API key"
              type="password"
              autoComplete="off"
              value={privateKey}
              onChange={setPrivateKey}
              help="Used in this browser only, to compute the HMAC-SHA1 signature (ik-s); it is never sent to Pictor or stored."
            />
            <Field label="Expires in (seconds, optional)" inputMode="numeric" value={expiresIn} onChange={setExpiresIn} placeholder="e.g. 3600" help="Adds ik-t; leave empty for a URL that never expires." />
            <ErrorBox error={signError} title="Could not sign" />
            {signed && <p className="muted">The URL above is signed{expires ? `, valid until ${new Date(expires * 1000).toISOString()}` : ''}.</p>}
          </section>
          {needsSignature && !signed ? (
            <p className="muted">Paste a private key above to preview: unsigned URLs answer 401 on this URL-endpoint.</p>
          ) : (
            <Preview url={previewUrl} originalUrl={previewOriginal} />
          )}
        </div>
      </div>
    </div>
  );
}
