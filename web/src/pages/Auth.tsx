import { useState, type FormEvent } from 'react';
import { Link, Navigate, useNavigate, useSearchParams } from 'react-router';
import { ApiError, fieldErrors, get, post, type Me, type SignupResult } from '../lib/api';
import { useTitle } from '../lib/hooks';
import { useSession } from '../components/session';
import { ErrorBox, Field, Notice } from '../components/ui';

/** Only same-site paths are followed after sign-in. */
function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/origins';
}

export function LoginPage() {
  useTitle('Sign in');
  const { me, setMe, config, expired } = useSession();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const next = safeNext(params.get('next'));

  if (me) return <Navigate to={next} replace />;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const m = await post<Me>('/v1/auth/login', { email, password });
      setMe(m);
      navigate(next, { replace: true });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const fe = fieldErrors(error);
  const general = error && !(error instanceof ApiError && error.field) ? error : null;

  return (
    <main className="auth">
      <h1>Sign in to Pictor</h1>
      {expired && <Notice kind="warning">Your session ended. Sign in again to continue.</Notice>}
      <form onSubmit={submit} noValidate>
        <Field label="Email" type="email" autoComplete="username" required value={email} onChange={setEmail} error={fe.email} />
        <Field label="Password" type="password" autoComplete="current-password" required value={password} onChange={setPassword} error={fe.password} />
        <ErrorBox error={general} />
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      {config.signupEnabled ? (
        <p>
          No account yet? <Link to="/signup">Sign up</Link>
        </p>
      ) : (
        <p className="muted">Accounts on this Pictor are created by its operator.</p>
      )}
    </main>
  );
}

export function SignupPage() {
  useTitle('Sign up');
  const { me, setMe, config } = useSession();
  const [welcomeKey, setWelcomeKey] = useState('');
  const [form, setForm] = useState({ accountId: '', name: '', email: '', password: '' });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  if (me) return <Navigate to="/origins" replace state={welcomeKey ? { welcomeKey } : undefined} />;
  if (!config.signupEnabled) {
    return (
      <main className="auth">
        <h1>Sign-up is closed</h1>
        <p>The operator of this Pictor creates accounts; ask them for one.</p>
        <p>
          <Link to="/login">Sign in</Link>
        </p>
      </main>
    );
  }

  const set = (k: keyof typeof form) => (v: string) => setForm((f) => ({ ...f, [k]: v }));
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await post<SignupResult>('/v1/auth/signup', form);
      const m = await get<Me>('/v1/auth/me');
      // Signed in, this page redirects to the origins, carrying the key shown once.
      setWelcomeKey(res.privateKey);
      setMe(m);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const fe = fieldErrors(error);
  const general = error && !(error instanceof ApiError && error.field && fe[error.field] && error.field in form) ? error : null;

  return (
    <main className="auth">
      <h1>Create your Pictor account</h1>
      <form onSubmit={submit} noValidate>
        <Field
          label="Account ID"
          required
          autoComplete="off"
          value={form.accountId}
          onChange={set('accountId')}
          error={fe.accountId}
          help="Lower-case letters, digits, '-' and '_'; it starts every image URL: http://EDGE/account-id/…"
        />
        <Field label="Company or project name" required value={form.name} onChange={set('name')} error={fe.name} />
        <Field label="Email" type="email" autoComplete="email" required value={form.email} onChange={set('email')} error={fe.email} />
        <Field
          label="Password"
          type="password"
          autoComplete="new-password"
          required
          value={form.password}
          onChange={set('password')}
          error={fe.password}
        />
        <ErrorBox error={general} />
        <button type="submit" disabled={busy}>
          {busy ? 'Creating…' : 'Create account'}
        </button>
      </form>
      <p>
        Already have an account? <Link to="/login">Sign in</Link>
      </p>
    </main>
  );
}
