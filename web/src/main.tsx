import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter, Navigate, Route, Routes } from 'react-router';
import './styles.css';
import { ErrorBoundary, Layout } from './components/Layout';
import { SessionProvider } from './components/session';
import { LoginPage, SignupPage } from './pages/Auth';
import { OriginsPage } from './pages/Origins';
import { OriginFormPage } from './pages/OriginForm';
import { EndpointsPage } from './pages/Endpoints';
import { EndpointFormPage } from './pages/EndpointForm';
import { BuilderPage } from './pages/Builder';
import { NamedPage } from './pages/Named';
import { PurgePage } from './pages/Purge';
import { KeysPage } from './pages/Keys';
import { UsagePage } from './pages/Usage';
import { WhitelistingPage } from './pages/Whitelisting';
import { NotFoundHelpPage } from './pages/NotFoundHelp';
import { NotFoundPage } from './pages/NotFound';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ErrorBoundary>
      <SessionProvider>
        <BrowserRouter>
          <Routes>
            <Route path="/login" element={<LoginPage />} />
            <Route path="/signup" element={<SignupPage />} />
            <Route element={<Layout />}>
              <Route index element={<Navigate to="/origins" replace />} />
              <Route path="origins" element={<OriginsPage />} />
              <Route path="origins/new" element={<OriginFormPage />} />
              <Route path="origins/:id/edit" element={<OriginFormPage />} />
              <Route path="endpoints" element={<EndpointsPage />} />
              <Route path="endpoints/new" element={<EndpointFormPage />} />
              <Route path="endpoints/:id" element={<EndpointFormPage />} />
              <Route path="builder" element={<BuilderPage />} />
              <Route path="named-transformations" element={<NamedPage />} />
              <Route path="purge" element={<PurgePage />} />
              <Route path="api-keys" element={<KeysPage />} />
              <Route path="usage" element={<UsagePage />} />
              <Route path="whitelisting" element={<WhitelistingPage />} />
              <Route path="not-found-help" element={<NotFoundHelpPage />} />
              <Route path="*" element={<NotFoundPage />} />
            </Route>
          </Routes>
        </BrowserRouter>
      </SessionProvider>
    </ErrorBoundary>
  </StrictMode>,
);
