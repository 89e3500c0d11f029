import { Component, useEffect, useState, type ErrorInfo, type ReactNode } from 'react';
import { NavLink, Navigate, Outlet, useLocation, useNavigate } from 'react-router';
import { useSession } from './session';
import { ErrorBox } from './ui';

const nav = [
  { to: '/origins', label: 'Origins' },
  { to: '/endpoints', label: 'URL-endpoints' },
  { to: '/builder', label: 'URL builder' },
  { to: '/named-transformations', label: 'Named transformations' },
  { to: '/purge', label: 'Purge cache' },
  { to: '/api-keys', label: 'API keys' },
  { to: '/usage', label: 'Usage' },
  { to: '/whitelisting', label: 'Whitelisting' },
  { to: '/not-found-help', label: 'Not-found help' },
];

/** The signed-in frame: header, navigation, the page. Signed out, it sends you to sign in. */
export function Layout() {
  const { me, logout } = useSession();
  const location = useLocation();
  const navigate = useNavigate();
  const [signOutError, setSignOutError] = useState<unknown>(null);

  // Move focus to the page's heading on navigation, for keyboard and screen-reader users.
  useEffect(() => {
    document.getElementById('page-title')?.focus({ preventScroll: true });
  }, [location.pathname]);

  if (!me) {
    const next = location.pathname + location.search;
    return <Navigate to={`/login?next=${encodeURIComponent(next)}`} replace />;
  }
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">Pictor</span>
        <span className="account" title={me.email}>
          {me.account.name} <span className="muted">({me.account.id})</span>
        </span>
        <button
          type="button"
          className="secondary"
          onClick={async () => {
            try {
              await logout();
              navigate('/login');
            } catch (e) {
              setSignOutError(e);
            }
          }}
        >
          Sign out
        </button>
      </header>
      {signOutError ? <ErrorBox title="Sign-out failed" error={signOutError} /> : null}
      <div className="frame">
        <nav aria-label="Main" className="sidebar">
          <ul>
            {nav.map((n) => (
              <li key={n.to}>
                <NavLink to={n.to}>{n.label}</NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" className="content">
          <ErrorBoundary key={location.pathname}>
            <Outlet />
          </ErrorBoundary>
        </main>
      </div>
    </div>
  );
}

/** Keeps a page's rendering bug from blanking the whole dashboard. */
export class ErrorBoundary extends Component<{ children: ReactNode }, { error: unknown }> {
  state = { error: null as unknown };
  static getDerivedStateFromError(error: unknown) {
    return { error };
  }
  componentDidCatch(error: unknown, info: ErrorInfo) {
    console.error('dashboard page failed', error, info.componentStack);
  }
  render() {
    if (this.state.error) {
      return (
        <div>
          <h1>Something went wrong on this page</h1>
          <ErrorBox error={this.state.error} onRetry={() => this.setState({ error: null })} />
          <p>The rest of the dashboard still works: pick another page on the left, or reload.</p>
        </div>
      );
    }
    return this.props.children;
  }
}
