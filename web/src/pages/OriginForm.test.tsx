// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { MemoryRouter, Route, Routes } from 'react-router';
import { OriginFormPage } from './OriginForm';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

type Answer = { status: number; body: unknown } | Promise<{ status: number; body: unknown }>;

/** Stubs fetch with one answer; returns the calls made. */
function stubFetch(answer: Answer) {
  const calls: { url: string; method: string; body: unknown }[] = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
    calls.push({ url, method: init.method ?? 'GET', body: init.body ? JSON.parse(String(init.body)) : undefined });
    const a = await answer;
    return new Response(JSON.stringify(a.body), { status: a.status, headers: { 'Content-Type': 'application/json' } });
  });
  return calls;
}

/** The "Add origin" wizard at its second step, for the given type. */
function renderDetails(type: 'Web server' | 'Web proxy' | 'Amazon S3' | 'S3-compatible storage' | 'Azure Blob Storage' = 'Web server') {
  render(
    <MemoryRouter initialEntries={['/origins/new']}>
      <Routes>
        <Route path="/origins/new" element={<OriginFormPage />} />
        <Route path="/origins" element={<p>Origins list</p>} />
      </Routes>
    </MemoryRouter>,
  );
  fireEvent.click(screen.getByLabelText(new RegExp(type)));
  fireEvent.click(screen.getByRole('button', { name: 'Continue' }));
}

const image = {
  url: 'https://www.example.com/photos/sample.jpg',
  status: 200,
  contentType: 'image/jpeg',
  bytes: 12595,
  format: 'jpeg',
  image: true,
  elapsedMs: 45,
  error: '',
};

describe('testing an origin before saving it', () => {
  it('posts the form with the path and shows the image it got', async () => {
    const calls = stubFetch({ status: 200, body: image });
    renderDetails();
    fireEvent.change(screen.getByLabelText(/Origin name/), { target: { value: 'Site' } });
    fireEvent.change(screen.getByLabelText(/Base URL/), { target: { value: 'https://www.example.com' } });
    const path = screen.getByLabelText('Path to try');
    expect(path.getAttribute('placeholder')).toBe('photos/sample.jpg');
    fireEvent.change(path, { target: { value: ' photos/sample.jpg ' } });
    const button = screen.getByRole('button', { name: 'Test origin' });
    expect(button.getAttribute('type')).toBe('button');
    fireEvent.click(button);
    const result = screen.getByTestId('origin-test-result');
    await waitFor(() => expect(result.textContent).toBe('Got a JPEG image, 12.3 KB, in 45 ms from https://www.example.com/photos/sample.jpg'));
    expect(result.getAttribute('role')).toBe('status');
    expect(result.className).toBe('notice notice-success');
    expect(calls).toEqual([
      {
        url: '/v1/accounts/origins/test',
        method: 'POST',
        body: {
          type: 'WEB_FOLDER',
          name: 'Site',
          baseUrl: 'https://www.example.com',
          forwardHostHeaderToOrigin: false,
          includeCanonicalHeader: false,
          baseUrlForCanonicalHeader: '',
          path: 'photos/sample.jpg',
        },
      },
    ]);
    // Nothing was saved: the wizard is still there.
    expect(screen.queryByText('Origins list')).toBeNull();
    // A result no longer matching the form is not shown.
    fireEvent.change(screen.getByLabelText(/Base URL/), { target: { value: 'https://other.example.com' } });
    expect(result.textContent).toBe('');
  });

  it('says "Testing…" and is disabled while the request runs; a miss is a warning', async () => {
    let answer!: (a: { status: number; body: unknown }) => void;
    stubFetch(new Promise((r) => (answer = r)));
    renderDetails();
    fireEvent.change(screen.getByLabelText(/Base URL/), { target: { value: 'https://www.example.com' } });
    fireEvent.change(screen.getByLabelText('Path to try'), { target: { value: 'missing.jpg' } });
    fireEvent.click(screen.getByRole('button', { name: 'Test origin' }));
    const busy = await screen.findByRole('button', { name: 'Testing…' });
    expect((busy as HTMLButtonElement).disabled).toBe(true);
    answer({ status: 200, body: { ...image, url: 'https://www.example.com/missing.jpg', status: 404, contentType: 'text/html', format: '', image: false } });
    const result = screen.getByTestId('origin-test-result');
    await waitFor(() => expect(result.textContent).toBe('HTTP 404 from https://www.example.com/missing.jpg — not found on this origin'));
    expect(result.className).toBe('notice notice-warning');
    expect((screen.getByRole('button', { name: 'Test origin' }) as HTMLButtonElement).disabled).toBe(false);
  });

  it('shows a 400 next to its field, as saving does', async () => {
    stubFetch({ status: 400, body: { message: 'The base URL must be an http(s) URL.', field: 'baseUrl' } });
    renderDetails();
    fireEvent.change(screen.getByLabelText(/Base URL/), { target: { value: 'ftp://x' } });
    fireEvent.change(screen.getByLabelText('Path to try'), { target: { value: 'a.jpg' } });
    fireEvent.click(screen.getByRole('button', { name: 'Test origin' }));
    await screen.findByText('The base URL must be an http(s) URL.');
    expect(screen.getByLabelText(/Base URL/).getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByTestId('origin-test-result').textContent).toBe('');
  });

  it('shows other API errors in the error box', async () => {
    stubFetch({ status: 500, body: { message: 'Something broke.' } });
    renderDetails();
    fireEvent.change(screen.getByLabelText('Path to try'), { target: { value: 'a.jpg' } });
    fireEvent.click(screen.getByRole('button', { name: 'Test origin' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('Could not test the origin');
    expect(alert.textContent).toContain('Something broke.');
  });

  it('asks for a path, and Enter in it tests rather than saves', async () => {
    const calls = stubFetch({ status: 200, body: { ...image, url: 'https://images.example.com/a.png', format: 'png' } });
    renderDetails('Web proxy');
    fireEvent.click(screen.getByRole('button', { name: 'Test origin' }));
    expect(screen.getByText('Enter the URL of an image to fetch.')).toBeTruthy();
    expect(calls).toEqual([]);
    const path = screen.getByLabelText('Path to try');
    expect(path.getAttribute('placeholder')).toBe('https://images.example.com/sample.jpg');
    fireEvent.change(path, { target: { value: 'https://images.example.com/a.png' } });
    fireEvent.keyDown(path, { key: 'Enter' });
    await waitFor(() => expect(screen.getByTestId('origin-test-result').textContent).toMatch(/^Got a PNG image/));
    expect(calls.map((c) => c.url)).toEqual(['/v1/accounts/origins/test']);
    expect(calls[0].body).toMatchObject({ type: 'WEB_PROXY', allowedHosts: [], path: 'https://images.example.com/a.png' });
    expect(calls[0].body).not.toHaveProperty('baseUrl');
  });
});

describe('object-storage origins', () => {
  const saved = {
    id: 'o9', type: 'S3_COMPATIBLE', name: 'Bucket', forwardHostHeaderToOrigin: false, includeCanonicalHeader: false, baseUrlForCanonicalHeader: '',
    bucket: 'images', prefix: 'site', accessKey: 'AKIDEXAMPLE', endpoint: 'https://s3.example.net', s3ForcePathStyle: false,
  };

  it('adds an S3-compatible origin: bucket, folder, keys, endpoint and path-style addressing (on by default)', async () => {
    const calls = stubFetch({ status: 201, body: saved });
    renderDetails('S3-compatible storage');
    expect(screen.getByText('Origin type: S3-compatible storage')).toBeTruthy();
    expect(screen.queryByLabelText(/Base URL/)).toBeNull();
    expect(screen.queryByLabelText(/Allowed hosts/)).toBeNull();
    expect(screen.queryByLabelText(/Forward the Host header/)).toBeNull();
    const pathStyle = screen.getByLabelText('Path-style addressing') as HTMLInputElement;
    expect(pathStyle.checked).toBe(true);
    const secret = screen.getByLabelText('Secret key') as HTMLInputElement;
    expect(secret.type).toBe('password');
    expect(secret.getAttribute('autocomplete')).toBe('off');
    expect(secret.required).toBe(true);
    expect((screen.getByLabelText('Bucket') as HTMLInputElement).required).toBe(true);
    expect((screen.getByLabelText('Folder inside the bucket') as HTMLInputElement).required).toBe(false);
    fireEvent.change(screen.getByLabelText('Origin name'), { target: { value: 'Bucket' } });
    fireEvent.change(screen.getByLabelText('Bucket'), { target: { value: 'images' } });
    fireEvent.change(screen.getByLabelText('Folder inside the bucket'), { target: { value: 'site' } });
    fireEvent.change(screen.getByLabelText('Access key'), { target: { value: 'AKIDEXAMPLE' } });
    fireEvent.change(secret, { target: { value: 'wJalrXUtnFEMI/K7MDENG' } });
    fireEvent.change(screen.getByLabelText('Endpoint'), { target: { value: 'https://s3.example.net' } });
    fireEvent.click(pathStyle);
    // The secret never reaches the page's HTML (React would copy a controlled value into the attribute).
    expect(document.body.innerHTML).not.toContain('wJalrXUtnFEMI');
    expect(secret.value).toBe('wJalrXUtnFEMI/K7MDENG');
    fireEvent.click(screen.getByRole('button', { name: 'Add origin' }));
    await screen.findByText('Origins list');
    expect(calls).toEqual([
      {
        url: '/v1/accounts/origins',
        method: 'POST',
        body: {
          type: 'S3_COMPATIBLE',
          name: 'Bucket',
          forwardHostHeaderToOrigin: false,
          includeCanonicalHeader: false,
          baseUrlForCanonicalHeader: '',
          bucket: 'images',
          prefix: 'site',
          accessKey: 'AKIDEXAMPLE',
          secretKey: 'wJalrXUtnFEMI/K7MDENG',
          endpoint: 'https://s3.example.net',
          s3ForcePathStyle: false,
        },
      },
    ]);
  });

  it('adds an Amazon S3 origin without an endpoint', async () => {
    const calls = stubFetch({ status: 201, body: { ...saved, type: 'S3', endpoint: undefined, s3ForcePathStyle: undefined } });
    renderDetails('Amazon S3');
    expect(screen.queryByLabelText('Endpoint')).toBeNull();
    expect(screen.queryByLabelText('Path-style addressing')).toBeNull();
    fireEvent.change(screen.getByLabelText('Bucket'), { target: { value: 'images' } });
    fireEvent.click(screen.getByRole('button', { name: 'Add origin' }));
    await screen.findByText('Origins list');
    expect(calls[0].body).toMatchObject({ type: 'S3', bucket: 'images', prefix: '' });
    for (const f of ['baseUrl', 'allowedHosts', 'endpoint', 's3ForcePathStyle', 'secretKey']) expect(calls[0].body).not.toHaveProperty(f);
  });

  it.each([
    ['bucket', 'Bucket'],
    ['prefix', 'Folder inside the bucket'],
    ['accessKey', 'Access key'],
    ['secretKey', 'Secret key'],
    ['endpoint', 'Endpoint'],
  ])('shows a 400 about %s next to its input', async (field, label) => {
    stubFetch({ status: 400, body: { message: `${field} is wrong`, field } });
    renderDetails('S3-compatible storage');
    fireEvent.click(screen.getByRole('button', { name: 'Add origin' }));
    await screen.findByText(`${field} is wrong`);
    const input = screen.getByLabelText(label);
    expect(input.getAttribute('aria-invalid')).toBe('true');
    expect(input.getAttribute('aria-describedby')).toContain(`${input.id}-error`);
    // Not repeated in the error box above the buttons.
    expect(screen.getAllByRole('alert')).toHaveLength(1);
  });

  it('edits an S3-compatible origin keeping its secret key when left empty', async () => {
    const calls = stubFetch({ status: 200, body: saved });
    render(
      <MemoryRouter initialEntries={['/origins/o9/edit']}>
        <Routes>
          <Route path="/origins/:id/edit" element={<OriginFormPage />} />
          <Route path="/origins" element={<p>Origins list</p>} />
        </Routes>
      </MemoryRouter>,
    );
    const bucket = (await screen.findByLabelText('Bucket')) as HTMLInputElement;
    expect(bucket.value).toBe('images');
    expect((screen.getByLabelText('Endpoint') as HTMLInputElement).value).toBe('https://s3.example.net');
    expect((screen.getByLabelText('Path-style addressing') as HTMLInputElement).checked).toBe(false);
    const secret = screen.getByLabelText('Secret key') as HTMLInputElement;
    expect(secret.value).toBe('');
    expect(secret.required).toBe(false);
    expect(screen.getByText('Leave empty to keep the current secret key.')).toBeTruthy();
    fireEvent.change(screen.getByLabelText('Folder inside the bucket'), { target: { value: 'site/v2' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save origin' }));
    await screen.findByText('Origins list');
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(['GET /v1/accounts/origins/o9', 'PUT /v1/accounts/origins/o9']);
    const { id: _id, ...expected } = saved;
    void _id;
    expect(calls[1].body).toEqual({ ...expected, prefix: 'site/v2' });
  });
});

describe('Azure Blob Storage origins', () => {
  const saved = {
    id: 'o7', type: 'AZURE_BLOB', name: 'Container', forwardHostHeaderToOrigin: false, includeCanonicalHeader: false, baseUrlForCanonicalHeader: '',
    accountName: 'mystorage', container: 'images', prefix: 'site',
  };
  const sas = 'sv=2024-11-04&ss=b&srt=co&sp=rl&sig=SECRETSIGNATURE';

  it('is offered on the first step; only Google Cloud Storage is not supported yet', () => {
    stubFetch({ status: 200, body: [] });
    render(
      <MemoryRouter initialEntries={['/origins/new']}>
        <OriginFormPage />
      </MemoryRouter>,
    );
    expect((screen.getByLabelText(/Azure Blob Storage/) as HTMLInputElement).value).toBe('AZURE_BLOB');
    expect(screen.getByText('Google Cloud Storage is not supported by Pictor yet; serve it through a web server URL instead.')).toBeTruthy();
  });

  it('adds an Azure Blob origin: storage account, container, folder and SAS token', async () => {
    const calls = stubFetch({ status: 201, body: saved });
    renderDetails('Azure Blob Storage');
    expect(screen.getByText('Origin type: Azure Blob Storage')).toBeTruthy();
    for (const absent of [/Base URL/, /Allowed hosts/, /Forward the Host header/, /^Bucket/, /Access key/, /Secret key/, /^Endpoint/, /Path-style addressing/]) {
      expect(screen.queryByLabelText(absent), String(absent)).toBeNull();
    }
    expect((screen.getByLabelText('Storage account') as HTMLInputElement).required).toBe(true);
    expect((screen.getByLabelText('Container') as HTMLInputElement).required).toBe(true);
    expect((screen.getByLabelText('Folder inside the container') as HTMLInputElement).required).toBe(false);
    const token = screen.getByLabelText('SAS token') as HTMLInputElement;
    expect(token.type).toBe('password');
    expect(token.getAttribute('autocomplete')).toBe('off');
    expect(token.required).toBe(true);
    fireEvent.change(screen.getByLabelText('Origin name'), { target: { value: 'Container' } });
    fireEvent.change(screen.getByLabelText('Storage account'), { target: { value: ' mystorage ' } });
    fireEvent.change(screen.getByLabelText('Container'), { target: { value: 'images' } });
    fireEvent.change(screen.getByLabelText('Folder inside the container'), { target: { value: '/site' } });
    fireEvent.change(token, { target: { value: sas } });
    // The token never reaches the page's HTML.
    expect(document.body.innerHTML).not.toContain('SECRETSIGNATURE');
    expect(token.value).toBe(sas);
    fireEvent.click(screen.getByRole('button', { name: 'Add origin' }));
    await screen.findByText('Origins list');
    expect(calls).toEqual([
      {
        url: '/v1/accounts/origins',
        method: 'POST',
        body: {
          type: 'AZURE_BLOB',
          name: 'Container',
          forwardHostHeaderToOrigin: false,
          includeCanonicalHeader: false,
          baseUrlForCanonicalHeader: '',
          accountName: 'mystorage',
          container: 'images',
          prefix: 'site',
          sasToken: sas,
        },
      },
    ]);
  });

  it('tests an Azure Blob origin with its fields and the path', async () => {
    const calls = stubFetch({ status: 200, body: { ...image, url: 'https://mystorage.blob.core.windows.net/images/a.jpg' } });
    renderDetails('Azure Blob Storage');
    expect(screen.getByText(/the path goes after the folder inside the container/)).toBeTruthy();
    fireEvent.change(screen.getByLabelText('Storage account'), { target: { value: 'mystorage' } });
    fireEvent.change(screen.getByLabelText('Container'), { target: { value: 'images' } });
    fireEvent.change(screen.getByLabelText('SAS token'), { target: { value: sas } });
    fireEvent.change(screen.getByLabelText('Path to try'), { target: { value: 'a.jpg' } });
    fireEvent.click(screen.getByRole('button', { name: 'Test origin' }));
    await waitFor(() => expect(screen.getByTestId('origin-test-result').textContent).toMatch(/^Got a JPEG image/));
    expect(calls[0].body).toEqual({
      type: 'AZURE_BLOB', name: '', forwardHostHeaderToOrigin: false, includeCanonicalHeader: false, baseUrlForCanonicalHeader: '',
      accountName: 'mystorage', container: 'images', prefix: '', sasToken: sas, path: 'a.jpg',
    });
  });

  it.each([
    ['accountName', 'Storage account'],
    ['container', 'Container'],
    ['prefix', 'Folder inside the container'],
    ['sasToken', 'SAS token'],
  ])('shows a 400 about %s next to its input', async (field, label) => {
    stubFetch({ status: 400, body: { message: `${field} is wrong`, field } });
    renderDetails('Azure Blob Storage');
    fireEvent.click(screen.getByRole('button', { name: 'Add origin' }));
    await screen.findByText(`${field} is wrong`);
    const input = screen.getByLabelText(label);
    expect(input.getAttribute('aria-invalid')).toBe('true');
    expect(input.getAttribute('aria-describedby')).toContain(`${input.id}-error`);
    // Not repeated in the error box above the buttons.
    expect(screen.getAllByRole('alert')).toHaveLength(1);
  });

  it('shows a 400 about an S3 field in the error box', async () => {
    stubFetch({ status: 400, body: { message: 'bucket is wrong', field: 'bucket' } });
    renderDetails('Azure Blob Storage');
    fireEvent.click(screen.getByRole('button', { name: 'Add origin' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('bucket is wrong');
  });

  it('edits an Azure Blob origin keeping its SAS token when left empty', async () => {
    const calls = stubFetch({ status: 200, body: saved });
    render(
      <MemoryRouter initialEntries={['/origins/o7/edit']}>
        <Routes>
          <Route path="/origins/:id/edit" element={<OriginFormPage />} />
          <Route path="/origins" element={<p>Origins list</p>} />
        </Routes>
      </MemoryRouter>,
    );
    const account = (await screen.findByLabelText('Storage account')) as HTMLInputElement;
    expect(account.value).toBe('mystorage');
    expect((screen.getByLabelText('Container') as HTMLInputElement).value).toBe('images');
    expect((screen.getByLabelText('Folder inside the container') as HTMLInputElement).value).toBe('site');
    const token = screen.getByLabelText('SAS token') as HTMLInputElement;
    expect(token.value).toBe('');
    expect(token.required).toBe(false);
    expect(screen.getByText('Leave empty to keep the current SAS token.')).toBeTruthy();
    fireEvent.change(screen.getByLabelText('Container'), { target: { value: 'photos' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save origin' }));
    await screen.findByText('Origins list');
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(['GET /v1/accounts/origins/o7', 'PUT /v1/accounts/origins/o7']);
    const { id: _id, ...expected } = saved;
    void _id;
    expect(calls[1].body).toEqual({ ...expected, container: 'photos' });
  });

  it('edits an Azure Blob origin with a new SAS token', async () => {
    const calls = stubFetch({ status: 200, body: saved });
    render(
      <MemoryRouter initialEntries={['/origins/o7/edit']}>
        <Routes>
          <Route path="/origins/:id/edit" element={<OriginFormPage />} />
          <Route path="/origins" element={<p>Origins list</p>} />
        </Routes>
      </MemoryRouter>,
    );
    const token = (await screen.findByLabelText('SAS token')) as HTMLInputElement;
    fireEvent.change(token, { target: { value: sas } });
    fireEvent.click(screen.getByRole('button', { name: 'Save origin' }));
    await screen.findByText('Origins list');
    expect(calls[1].body).toMatchObject({ type: 'AZURE_BLOB', sasToken: sas });
  });
});
