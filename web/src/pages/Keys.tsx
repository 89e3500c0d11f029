import { useState, type FormEvent } from 'react';
import { ApiError, del, get, post, type ApiKey, type CreatedApiKey } from '../lib/api';
import { formatDateTime } from '../lib/format';
import { useLoad, useTitle } from '../lib/hooks';
import { ConfirmButton, CopyButton, ErrorBox, Field, Loading, Notice, PageHeader } from '../components/ui';

export function KeysPage() {
  useTitle('API keys');
  const list = useLoad(() => get<ApiKey[]>('/v1/api-keys'));
  const [name, setName] = useState('');
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [revokeError, setRevokeError] = useState<unknown>(null);
  const [revoked, setRevoked] = useState('');
  const [busy, setBusy] = useState(false);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setRevoked('');
    try {
      const k = await post<CreatedApiKey>('/v1/api-keys', { name: name.trim() });
      setCreated(k);
      setName('');
      list.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (k: ApiKey) => {
    setRevokeError(null);
    try {
      await del(`/v1/api-keys/${encodeURIComponent(k.id)}`);
      setRevoked(`Revoked ${k.name || k.displayPrefix}. Requests and signed URLs using it now fail.`);
      if (created?.id === k.id) setCreated(null);
      list.reload();
    } catch (e) {
      setRevokeError(e);
    }
  };

  return (
    <div>
      <PageHeader title="API keys" />
      <p className="lead">
        Private API keys authenticate the REST API (HTTP Basic, the key as the username) and sign image URLs. Keep several to rotate without downtime: create a
        new key, deploy it, then revoke the old one.
      </p>
      {created && (
        <Notice kind="success" onDismiss={() => setCreated(null)}>
          <p>
            <strong>New key {created.name ? `“${created.name}”` : ''} — copy it now: it is shown only this once.</strong>
          </p>
          <p className="secret">
            <code data-testid="new-key">{created.privateKey}</code> <CopyButton text={created.privateKey} />
          </p>
        </Notice>
      )}
      {revoked && (
        <Notice kind="info" onDismiss={() => setRevoked('')}>
          {revoked}
        </Notice>
      )}
      <ErrorBox error={revokeError} title="Could not revoke" />
      {list.loading && !list.data ? (
        <Loading what="Loading API keys" />
      ) : list.error ? (
        <ErrorBox error={list.error} onRetry={list.reload} title="Could not load API keys" />
      ) : list.data!.length === 0 ? (
        <p className="empty">No active key: create one to use the REST API or sign URLs.</p>
      ) : (
        <div className="table-wrap">
          <table className="stack">
            <caption className="visually-hidden">Active API keys</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Key</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data!.map((k) => (
                <tr key={k.id} data-testid="key-row">
                  <td data-label="Name">{k.name || <span className="muted">unnamed</span>}</td>
                  <td data-label="Key" className="mono">
                    {k.displayPrefix}…
                  </td>
                  <td data-label="Created">{formatDateTime(k.createdAt)}</td>
                  <td className="actions">
                    <ConfirmButton label="Revoke" confirmLabel="Revoke key" question={`Revoke ${k.name || k.displayPrefix}? This cannot be undone.`} onConfirm={() => revoke(k)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <section className="card" aria-labelledby="new-key-title">
        <h2 id="new-key-title">Create a key</h2>
        <form onSubmit={create} noValidate className="form">
          <Field label="Key name" value={name} onChange={setName} placeholder="CI deploys" error={error instanceof ApiError && error.field === 'name' ? error.message : undefined} />
          <ErrorBox error={error instanceof ApiError && error.field === 'name' ? null : error} />
          <button type="submit" disabled={busy}>
            {busy ? 'Creating…' : 'Create key'}
          </button>
        </form>
      </section>
    </div>
  );
}
