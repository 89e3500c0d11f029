import { useEffect, useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { ApiError, fieldErrors, get, post, put, type Origin, type OriginInput } from '../lib/api';
import { useLoad, useTitle } from '../lib/hooks';
import { describeOriginTest, type OriginTestResult } from '../lib/originTest';
import { isAzureBlob, isObjectStorage } from '../lib/origin';
import { Checkbox, ErrorBox, Field, Loading, PageHeader } from '../components/ui';

const blank: OriginInput = {
  type: 'WEB_FOLDER',
  name: '',
  baseUrl: '',
  forwardHostHeaderToOrigin: false,
  includeCanonicalHeader: false,
  baseUrlForCanonicalHeader: '',
  allowedHosts: [],
  bucket: '',
  prefix: '',
  accessKey: '',
  secretKey: '',
  endpoint: '',
  // Most S3-compatible services (MinIO, self-hosted ones) want the bucket in the path.
  s3ForcePathStyle: true,
  accountName: '',
  container: '',
  sasToken: '',
};

/** The wizard's names for the origin types. */
const typeLabels: Record<string, string> = {
  WEB_FOLDER: 'Web server',
  WEB_PROXY: 'Web proxy',
  S3: 'Amazon S3',
  S3_COMPATIBLE: 'S3-compatible storage',
  AZURE_BLOB: 'Azure Blob Storage',
};

/**
 * The request body for the origin's type, with only that type's fields: a web server has a base URL,
 * a web proxy its host list, an S3 origin its bucket, folder and keys (an S3-compatible one also its
 * endpoint and addressing style), an Azure Blob origin its storage account, container, folder and SAS token.
 * An empty secret key or SAS token is left out: on an edit the stored one stays.
 */
export function originBody(form: OriginInput, hostsText: string): OriginInput {
  const {
    baseUrl,
    allowedHosts: _h,
    bucket,
    prefix,
    accessKey,
    secretKey,
    endpoint,
    s3ForcePathStyle,
    accountName,
    container,
    sasToken,
    ...common
  } = form;
  void _h;
  const base = { ...common, baseUrlForCanonicalHeader: form.includeCanonicalHeader ? form.baseUrlForCanonicalHeader : '' };
  if (form.type === 'WEB_PROXY') {
    const allowedHosts = hostsText
      .split(/[\s,]+/)
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean);
    return { ...base, forwardHostHeaderToOrigin: false, allowedHosts };
  }
  if (isAzureBlob(form.type)) {
    const token = (sasToken ?? '').trim();
    return {
      ...base,
      // Requests go to the storage account's own host.
      forwardHostHeaderToOrigin: false,
      accountName: (accountName ?? '').trim(),
      container: (container ?? '').trim(),
      // A blob name prefix inside the container: no leading slash.
      prefix: (prefix ?? '').trim().replace(/^\/+/, ''),
      ...(token ? { sasToken: token } : {}),
    };
  }
  if (isObjectStorage(form.type)) {
    const secret = (secretKey ?? '').trim();
    const body: OriginInput = {
      ...base,
      // The storage service's signed requests name its own host.
      forwardHostHeaderToOrigin: false,
      bucket: (bucket ?? '').trim(),
      // A key prefix inside the bucket: no leading slash.
      prefix: (prefix ?? '').trim().replace(/^\/+/, ''),
      accessKey: (accessKey ?? '').trim(),
      ...(secret ? { secretKey: secret } : {}),
    };
    if (form.type === 'S3_COMPATIBLE') {
      body.endpoint = (endpoint ?? '').trim();
      body.s3ForcePathStyle = s3ForcePathStyle ?? false;
    }
    return body;
  }
  return { ...base, baseUrl: baseUrl ?? '' };
}

/** Add origin (a two-step wizard: type, then details) and edit origin. */
export function OriginFormPage() {
  const { id } = useParams();
  const editing = id !== undefined;
  useTitle(editing ? 'Edit origin' : 'Add origin');
  const navigate = useNavigate();
  const [step, setStep] = useState<1 | 2>(editing ? 2 : 1);
  const [form, setForm] = useState<OriginInput>(blank);
  const [hostsText, setHostsText] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // Which button the error in `error` came from: saving, or testing the origin.
  const [errorFrom, setErrorFrom] = useState<'save' | 'test'>('save');
  const [testPath, setTestPath] = useState('');
  const [testing, setTesting] = useState(false);
  // The last test's answer, with the request it answered: shown only while the form still matches it.
  const [tested, setTested] = useState<{ key: string; result: OriginTestResult } | null>(null);
  const existing = useLoad<Origin | null>(() => (editing ? get<Origin>(`/v1/accounts/origins/${encodeURIComponent(id!)}`) : Promise.resolve(null)), [id]);

  useEffect(() => {
    if (existing.data) {
      const { id: _ignored, ...rest } = existing.data;
      void _ignored;
      setForm({ ...blank, ...rest });
      setHostsText((rest.allowedHosts ?? []).join('\n'));
      if (rest.includeCanonicalHeader || rest.forwardHostHeaderToOrigin) setAdvanced(true);
    }
  }, [existing.data]);
  const [advanced, setAdvanced] = useState(false);

  const set = <K extends keyof OriginInput>(k: K) => (v: OriginInput[K]) => setForm((f) => ({ ...f, [k]: v }));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setErrorFrom('save');
    const body = originBody(form, hostsText);
    try {
      const saved = editing
        ? await put<Origin>(`/v1/accounts/origins/${encodeURIComponent(id!)}`, body)
        : await post<Origin>('/v1/accounts/origins', body);
      navigate('/origins', { state: { saved: editing ? `Saved origin “${saved.name}”.` : `Added origin “${saved.name}”.` } });
    } catch (err) {
      setError(err);
      if (err instanceof ApiError && err.field === 'baseUrlForCanonicalHeader') setAdvanced(true);
    } finally {
      setBusy(false);
    }
  };

  const proxy = form.type === 'WEB_PROXY';
  const storage = isObjectStorage(form.type);
  const compatible = form.type === 'S3_COMPATIBLE';
  const azure = isAzureBlob(form.type);
  // A saved bucket or container is tried with its stored secret when the form leaves the (write-only) secret empty.
  const testBody = { ...originBody(form, hostsText), path: testPath.trim(), ...(editing ? { id } : {}) };
  const testKey = JSON.stringify(testBody);

  /** Fetches the path through the origin as the form stands, without saving it. */
  const runTest = async () => {
    setError(null);
    setErrorFrom('test');
    setTested(null);
    if (!testBody.path) {
      setError(new ApiError(400, proxy ? 'Enter the URL of an image to fetch.' : 'Enter the path of an image to fetch.', '', 'path'));
      return;
    }
    setTesting(true);
    try {
      const result = await post<OriginTestResult>('/v1/accounts/origins/test', testBody);
      setTested({ key: testKey, result });
    } catch (err) {
      setError(err);
      if (err instanceof ApiError && err.field === 'baseUrlForCanonicalHeader') setAdvanced(true);
    } finally {
      setTesting(false);
    }
  };

  const fe = fieldErrors(error);
  // Errors about a field shown on the form appear next to it; any other above the buttons
  // (a test's, under the test button).
  const typeFields = proxy
    ? ['allowedHosts']
    : storage
      ? ['bucket', 'prefix', 'accessKey', 'secretKey', ...(compatible ? ['endpoint'] : [])]
      : azure
        ? ['accountName', 'container', 'prefix', 'sasToken']
        : ['baseUrl'];
  const shownFields = ['name', ...typeFields, 'path', ...(form.includeCanonicalHeader ? ['baseUrlForCanonicalHeader'] : [])];
  const general = error && !(error instanceof ApiError && shownFields.includes(error.field)) ? error : null;
  const testOutcome = tested && tested.key === testKey ? describeOriginTest(tested.result, storage || azure) : null;

  if (editing && existing.loading) return <Loading what="Loading the origin" />;
  if (editing && existing.error) {
    return (
      <div>
        <PageHeader title="Edit origin" />
        <ErrorBox error={existing.error} onRetry={existing.reload} title="Could not load the origin" />
        <p>
          <Link to="/origins">Back to origins</Link>
        </p>
      </div>
    );
  }

  if (step === 1) {
    return (
      <div>
        <PageHeader title="Add origin" />
        <ol className="steps" aria-label="Steps">
          <li aria-current="step">Origin type</li>
          <li>Details</li>
        </ol>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            setStep(2);
          }}
        >
          <fieldset>
            <legend>Where do your images live?</legend>
            <div className="choice">
              <input type="radio" id="type-web" name="type" value="WEB_FOLDER" checked={form.type === 'WEB_FOLDER'} onChange={() => set('type')('WEB_FOLDER')} />
              <label htmlFor="type-web">
                <strong>Web server</strong>
                <span className="muted"> — any HTTP(S) server or site that already serves your images, e.g. your website, a load balancer or a CDN.</span>
              </label>
            </div>
            <div className="choice">
              <input type="radio" id="type-proxy" name="type" value="WEB_PROXY" checked={form.type === 'WEB_PROXY'} onChange={() => set('type')('WEB_PROXY')} />
              <label htmlFor="type-proxy">
                <strong>Web proxy</strong>
                <span className="muted"> — images anywhere on the web: the whole image URL goes after the URL-endpoint.</span>
              </label>
            </div>
            <div className="choice">
              <input type="radio" id="type-s3" name="type" value="S3" checked={form.type === 'S3'} onChange={() => set('type')('S3')} />
              <label htmlFor="type-s3">
                <strong>Amazon S3</strong>
                <span className="muted"> — a bucket in AWS, read with an access key.</span>
              </label>
            </div>
            <div className="choice">
              <input
                type="radio"
                id="type-s3-compatible"
                name="type"
                value="S3_COMPATIBLE"
                checked={form.type === 'S3_COMPATIBLE'}
                onChange={() => set('type')('S3_COMPATIBLE')}
              />
              <label htmlFor="type-s3-compatible">
                <strong>S3-compatible storage</strong>
                <span className="muted"> — a bucket on another service with the S3 API, e.g. Wasabi, Cloudflare R2, DigitalOcean Spaces or MinIO.</span>
              </label>
            </div>
            <div className="choice">
              <input type="radio" id="type-azure" name="type" value="AZURE_BLOB" checked={form.type === 'AZURE_BLOB'} onChange={() => set('type')('AZURE_BLOB')} />
              <label htmlFor="type-azure">
                <strong>Azure Blob Storage</strong>
                <span className="muted"> — a container in an Azure storage account, read with a SAS token.</span>
              </label>
            </div>
            <p className="muted">Google Cloud Storage is not supported by Pictor yet; serve it through a web server URL instead.</p>
          </fieldset>
          <div className="form-actions">
            <button type="submit">Continue</button>
            <Link className="button secondary" to="/origins">
              Cancel
            </Link>
          </div>
        </form>
      </div>
    );
  }

  return (
    <div>
      <PageHeader title={editing ? `Edit origin` : 'Add origin'} />
      {!editing && (
        <ol className="steps" aria-label="Steps">
          <li>Origin type: {typeLabels[form.type] ?? form.type}</li>
          <li aria-current="step">Details</li>
        </ol>
      )}
      <form onSubmit={submit} noValidate className="form">
        <Field label="Origin name" required value={form.name} onChange={set('name')} error={fe.name} placeholder="Website load balancer" help="For you only: shown in the dashboard." />
        {proxy ? (
          <div className={'field' + (fe.allowedHosts ? ' field-invalid' : '')}>
            <label htmlFor="allowed-hosts">Allowed hosts</label>
            <textarea
              id="allowed-hosts"
              rows={3}
              value={hostsText}
              onChange={(e) => setHostsText(e.target.value)}
              aria-invalid={fe.allowedHosts ? true : undefined}
              aria-describedby="allowed-hosts-help"
              placeholder={'images.example.com\n*.cdn.example.net'}
            />
            <p className="field-help" id="allowed-hosts-help">
              One host per line; <code>*.example.net</code> allows every name under it. Left empty, the proxy fetches from any public host:
              anyone could then use your account as an image proxy, so make its URL-endpoint require signed URLs.
            </p>
            {fe.allowedHosts && (
              <p className="field-error" role="alert">
                {fe.allowedHosts}
              </p>
            )}
          </div>
        ) : storage ? (
          <>
            <Field
              label="Bucket"
              required
              autoComplete="off"
              autoCapitalize="none"
              spellCheck={false}
              value={form.bucket ?? ''}
              onChange={set('bucket')}
              error={fe.bucket}
              placeholder="my-images"
              help={compatible ? 'The bucket’s name on the storage service.' : 'The bucket’s name in Amazon S3 (any region).'}
            />
            <Field
              label="Folder inside the bucket"
              autoComplete="off"
              autoCapitalize="none"
              spellCheck={false}
              value={form.prefix ?? ''}
              onChange={set('prefix')}
              error={fe.prefix}
              placeholder="images/originals"
              help={
                <>
                  Optional. With <code>images/originals</code>, <code>/rest-of-the-path.jpg</code> on your URL-endpoint reads the key{' '}
                  <code>images/originals/rest-of-the-path.jpg</code>; left empty, the whole bucket is served.
                </>
              }
            />
            {compatible && (
              <>
                <Field
                  label="Endpoint"
                  required
                  type="url"
                  inputMode="url"
                  autoComplete="off"
                  spellCheck={false}
                  value={form.endpoint ?? ''}
                  onChange={set('endpoint')}
                  error={fe.endpoint}
                  placeholder="https://s3.eu-central-1.wasabisys.com"
                  help={
                    <>
                      The storage service’s S3 API URL, e.g. <code>https://s3.eu-central-1.wasabisys.com</code>.
                    </>
                  }
                />
                <Checkbox
                  label="Path-style addressing"
                  checked={form.s3ForcePathStyle ?? false}
                  onChange={set('s3ForcePathStyle')}
                  help={
                    <>
                      Ask for <code>endpoint/bucket/key</code> rather than <code>bucket.endpoint/key</code>: needed by MinIO and most self-hosted storage.
                    </>
                  }
                />
              </>
            )}
            <Field
              label="Access key"
              required
              autoComplete="off"
              autoCapitalize="none"
              spellCheck={false}
              value={form.accessKey ?? ''}
              onChange={set('accessKey')}
              error={fe.accessKey}
              placeholder="AKIAIOSFODNN7EXAMPLE"
              help="The access key ID of a key that can read the bucket."
            />
            <Field
              label="Secret key"
              required={!editing}
              type="password"
              secret
              autoComplete="off"
              autoCapitalize="none"
              spellCheck={false}
              value={form.secretKey ?? ''}
              onChange={set('secretKey')}
              error={fe.secretKey}
              help={editing ? 'Leave empty to keep the current secret key.' : 'Stored encrypted and never shown again.'}
            />
          </>
        ) : azure ? (
          <>
            <Field
              label="Storage account"
              required
              autoComplete="off"
              autoCapitalize="none"
              spellCheck={false}
              value={form.accountName ?? ''}
              onChange={set('accountName')}
              error={fe.accountName}
              placeholder="mystorage"
              help={
                <>
                  The storage account’s name: <code>mystorage</code> for <code>https://mystorage.blob.core.windows.net</code>.
                </>
              }
            />
            <Field
              label="Container"
              required
              autoComplete="off"
              autoCapitalize="none"
              spellCheck={false}
              value={form.container ?? ''}
              onChange={set('container')}
              error={fe.container}
              placeholder="images"
              help="The container’s name in the storage account."
            />
            <Field
              label="Folder inside the container"
              autoComplete="off"
              autoCapitalize="none"
              spellCheck={false}
              value={form.prefix ?? ''}
              onChange={set('prefix')}
              error={fe.prefix}
              placeholder="images/originals"
              help={
                <>
                  Optional. With <code>images/originals</code>, <code>/rest-of-the-path.jpg</code> on your URL-endpoint reads the blob{' '}
                  <code>images/originals/rest-of-the-path.jpg</code>; left empty, the whole container is served.
                </>
              }
            />
            <Field
              label="SAS token"
              required={!editing}
              type="password"
              secret
              autoComplete="off"
              autoCapitalize="none"
              spellCheck={false}
              value={form.sasToken ?? ''}
              onChange={set('sasToken')}
              error={fe.sasToken}
              help={
                editing
                  ? 'Leave empty to keep the current SAS token.'
                  : 'A shared access signature that can read the container. Stored encrypted and never shown again.'
              }
            />
          </>
        ) : (
          <Field
            label="Base URL"
            required
            type="url"
            inputMode="url"
            value={form.baseUrl ?? ''}
            onChange={set('baseUrl')}
            error={fe.baseUrl}
            placeholder="https://www.example.com"
            help={
              <>
                If your images live at <code>https://www.example.com/rest-of-the-path.jpg</code>, the base URL is <code>https://www.example.com</code>.
              </>
            }
          />
        )}
        <details open={advanced} onToggle={(e) => setAdvanced((e.target as HTMLDetailsElement).open)}>
          <summary>Advanced options</summary>
          <Checkbox
            label="Include a canonical header"
            checked={form.includeCanonicalHeader}
            onChange={set('includeCanonicalHeader')}
            help={
              <>
                Responses carry <code>Link: &lt;canonical URL&gt;; rel="canonical"</code>, so search engines credit the original.
              </>
            }
          />
          {form.includeCanonicalHeader && (
            <Field
              label="Base URL for the canonical header"
              type="url"
              value={form.baseUrlForCanonicalHeader}
              onChange={set('baseUrlForCanonicalHeader')}
              error={fe.baseUrlForCanonicalHeader}
              placeholder="https://www.example.com"
              help="The canonical URL is this base URL followed by the image path."
            />
          )}
          {form.type === 'WEB_FOLDER' && (
            <Checkbox
              label="Forward the Host header to the origin"
              checked={form.forwardHostHeaderToOrigin}
              onChange={set('forwardHostHeaderToOrigin')}
              help="Send the Host the visitor asked for (e.g. your custom domain) instead of the base URL's host."
            />
          )}
        </details>
        <fieldset>
          <legend>Test the origin</legend>
          <p className="field-help" id="origin-test-help">
            {proxy ? (
              <>Fetch an image URL the way this proxy would, before you save it: the host must be one of the allowed hosts.</>
            ) : storage || azure ? (
              <>
                Fetch one image the way this origin would, before you save it: the path goes after the folder inside the {azure ? 'container' : 'bucket'}, as it
                goes after your URL-endpoint.
              </>
            ) : (
              <>
                Fetch one image the way this origin would, before you save it: the path goes after the base URL, as it goes after your
                URL-endpoint.
              </>
            )}
          </p>
          <div className="inline-form">
            <Field
              label="Path to try"
              id="origin-test-path"
              type={proxy ? 'url' : 'text'}
              inputMode="url"
              autoComplete="off"
              spellCheck={false}
              value={testPath}
              onChange={setTestPath}
              error={fe.path}
              placeholder={proxy ? 'https://images.example.com/sample.jpg' : 'photos/sample.jpg'}
              aria-describedby={['origin-test-help', fe.path ? 'origin-test-path-error' : ''].filter(Boolean).join(' ')}
              onKeyDown={(e) => {
                // Enter here tests the origin rather than saving it.
                if (e.key === 'Enter') {
                  e.preventDefault();
                  if (!testing && !busy) void runTest();
                }
              }}
            />
            <button type="button" className="secondary" onClick={() => void runTest()} disabled={testing || busy}>
              {testing ? 'Testing…' : 'Test origin'}
            </button>
          </div>
          <div
            data-testid="origin-test-result"
            role="status"
            className={testOutcome ? `notice ${testOutcome.ok ? 'notice-success' : 'notice-warning'}` : undefined}
          >
            {testOutcome?.message}
          </div>
          {errorFrom === 'test' && <ErrorBox error={general} title="Could not test the origin" />}
        </fieldset>
        {errorFrom === 'save' && <ErrorBox error={general} />}
        <div className="form-actions">
          <button type="submit" disabled={busy}>
            {busy ? 'Saving…' : editing ? 'Save origin' : 'Add origin'}
          </button>
          {!editing && (
            <button type="button" className="secondary" onClick={() => setStep(1)}>
              Back
            </button>
          )}
          <Link className="button secondary" to="/origins">
            Cancel
          </Link>
        </div>
      </form>
    </div>
  );
}
