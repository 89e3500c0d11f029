import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { ApiError, SESSION_LOST_EVENT, get, post, type DashboardConfig, type Me } from '../lib/api';
import { ErrorBox, Loading } from './ui';

interface Session {
  config: DashboardConfig;
  me: Me | null;
  setMe: (me: Me | null) => void;
  logout: () => Promise<void>;
  /** Set when the session ended by itself (expired, revoked) rather than by sign-out. */
  expired: boolean;
}

const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}

/** Loads the deployment's settings and the signed-in user before anything else renders. */
export function SessionProvider({ children }: { children: ReactNode }) {
  const [config, setConfig] = useState<DashboardConfig | null>(null);
  const [me, setMeState] = useState<Me | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [expired, setExpired] = useState(false);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let cancelled = false;
    setLoading(true);
    setError(null);
    Promise.all([
      get<DashboardConfig>('/v1/dashboard/config'),
      get<Me>('/v1/auth/me').catch((e: unknown) => {
        if (e instanceof ApiError && e.status === 401) return null;
        throw e;
      }),
    ]).then(
      ([c, m]) => {
        if (cancelled) return;
        setConfig(c);
        setMeState(m);
        setLoading(false);
      },
      (e: unknown) => {
        if (cancelled) return;
        setError(e);
        setLoading(false);
      },
    );
    return () => {
      cancelled = true;
    };
  }, [attempt]);

  useEffect(() => {
    const lost = () => {
      setMeState(null);
      setExpired(true);
    };
    window.addEventListener(SESSION_LOST_EVENT, lost);
    return () => window.removeEventListener(SESSION_LOST_EVENT, lost);
  }, []);

  const setMe = useCallback((m: Me | null) => {
    setMeState(m);
    if (m) setExpired(false);
  }, []);

  const logout = useCallback(async () => {
    await post('/v1/auth/logout');
    setMeState(null);
    setExpired(false);
  }, []);

  if (loading) {
    return (
      <main className="centered">
        <Loading what="Loading Pictor" />
      </main>
    );
  }
  if (error || !config) {
    return (
      <main className="centered">
        <h1>Pictor</h1>
        <ErrorBox title="The dashboard could not start" error={error ?? new Error('no configuration')} onRetry={() => setAttempt((a) => a + 1)} />
      </main>
    );
  }
  return <SessionContext.Provider value={{ config, me, setMe, logout, expired }}>{children}</SessionContext.Provider>;
}
