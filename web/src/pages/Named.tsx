import { useState, type FormEvent } from 'react';
import { ApiError, del, fieldErrors, get, patch, post, type NamedTransformation } from '../lib/api';
import { useLoad, useTitle } from '../lib/hooks';
import { Checkbox, ConfirmButton, ErrorBox, Field, Loading, Notice, PageHeader } from '../components/ui';

function EditRow({ n, onSaved }: { n: NamedTransformation; onSaved: () => void }) {
  const [editing, setEditing] = useState(false);
  const [value, setValue] = useState(n.transformation);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  if (!editing) {
    return (
      <>
        <code className="break">{n.transformation}</code>{' '}
        <button type="button" className="secondary small" onClick={() => setEditing(true)} aria-label={`Edit ${n.name}`}>
          Edit
        </button>
      </>
    );
  }
  return (
    <form
      className="inline-form"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        try {
          await patch(`/v1/named-transformations/${encodeURIComponent(n.id)}`, { transformation: value });
          setEditing(false);
          onSaved();
        } catch (err) {
          setError(err);
        } finally {
          setBusy(false);
        }
      }}
    >
      <Field label={`Transformation of ${n.name}`} value={value} onChange={setValue} error={error instanceof ApiError ? error.message : undefined} />
      <button type="submit" disabled={busy}>
        Save
      </button>
      <button type="button" className="secondary" onClick={() => setEditing(false)}>
        Cancel
      </button>
    </form>
  );
}

export function NamedPage() {
  useTitle('Named transformations');
  const list = useLoad(() => get<NamedTransformation[]>('/v1/named-transformations'));
  const [name, setName] = useState('');
  const [transformation, setTransformation] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [saved, setSaved] = useState('');
  const [busy, setBusy] = useState(false);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const n = await post<NamedTransformation>('/v1/named-transformations', { name, transformation });
      setSaved(`Created n-${n.name}.`);
      setName('');
      setTransformation('');
      list.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const act = async (f: () => Promise<unknown>) => {
    setActionError(null);
    try {
      await f();
      list.reload();
    } catch (e) {
      setActionError(e);
    }
  };
  const fe = fieldErrors(error);
  const general = error && !(error instanceof ApiError && ['name', 'transformation'].includes(error.field)) ? error : null;

  return (
    <div>
      <PageHeader title="Named transformations" />
      <p className="lead">
        Give a transformation a name, then use <code>n-name</code> in URLs (<code>tr:n-thumbnail</code>): change it here and every URL that names it follows.
      </p>
      {saved && (
        <Notice kind="success" onDismiss={() => setSaved('')}>
          {saved}
        </Notice>
      )}
      <ErrorBox error={actionError} />
      {list.loading && !list.data ? (
        <Loading what="Loading named transformations" />
      ) : list.error ? (
        <ErrorBox error={list.error} onRetry={list.reload} title="Could not load named transformations" />
      ) : list.data!.length === 0 ? (
        <p className="empty">No named transformations yet.</p>
      ) : (
        <div className="table-wrap">
          <table className="stack">
            <caption className="visually-hidden">Named transformations</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Transformation</th>
                <th scope="col">Enabled</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data!.map((n) => (
                <tr key={n.id}>
                  <td data-label="Name" className="mono">
                    n-{n.name}
                  </td>
                  <td data-label="Transformation">
                    <EditRow n={n} onSaved={list.reload} />
                  </td>
                  <td data-label="Enabled">
                    <Checkbox
                      label={<span className="visually-hidden">Enable n-{n.name}</span>}
                      checked={n.enabled}
                      onChange={(v) => act(() => patch(`/v1/named-transformations/${encodeURIComponent(n.id)}`, { enabled: v }))}
                    />
                  </td>
                  <td className="actions">
                    <ConfirmButton label="Delete" confirmLabel="Delete" question={`Delete n-${n.name}? URLs naming it answer 400.`} onConfirm={() => act(() => del(`/v1/named-transformations/${encodeURIComponent(n.id)}`))} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <section className="card" aria-labelledby="new-named">
        <h2 id="new-named">New named transformation</h2>
        <form onSubmit={create} noValidate className="form">
          <Field label="Name" value={name} onChange={setName} error={fe.name} placeholder="thumbnail" help="Letters, digits, '_' and '-'." />
          <Field label="Transformation" value={transformation} onChange={setTransformation} error={fe.transformation} placeholder="w-200,h-200,c-at_max" />
          <ErrorBox error={general} />
          <button type="submit" disabled={busy}>
            {busy ? 'Creating…' : 'Create'}
          </button>
        </form>
      </section>
    </div>
  );
}
