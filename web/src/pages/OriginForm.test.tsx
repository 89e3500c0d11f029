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
function renderDetails(type: 'Web server' | 'Web proxy' = 'Web server') {
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
