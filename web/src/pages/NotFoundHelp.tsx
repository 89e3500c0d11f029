import { Link } from 'react-router';
import { get, type DeliveryError, type Origin, type UrlEndpoint } from '../lib/api';
import { describeReason, displayPath, endpointLabel, formatAgo, originNames } from '../lib/deliveryErrors';
import { formatDateTime } from '../lib/format';
import { useLoad, useTitle } from '../lib/hooks';
import { ErrorBox, Loading, PageHeader } from '../components/ui';

/**
 * "Not found" help: the account's recent delivery errors (404, 422, 502,
 * 504) as the edges reported them with their usage, and how to diagnose one.
 */
export function NotFoundHelpPage() {
  useTitle('Not-found help');
  const errors = useLoad(() => get<DeliveryError[]>('/v1/accounts/delivery-errors?limit=100'));
  // Names for the origin ids; the list still shows ids if this fails.
  const origins = useLoad(() => get<Origin[]>('/v1/accounts/origins'));
  const endpoints = useLoad(() => get<UrlEndpoint[]>('/v1/accounts/url-endpoints'));

  return (
    <div>
      <PageHeader title="Not-found help">
        <button type="button" className="secondary" onClick={errors.reload} disabled={errors.loading}>
          Refresh
        </button>
      </PageHeader>
      <section aria-labelledby="recent-errors">
        <h2 id="recent-errors">Recent delivery errors</h2>
        <p className="lead">
          Image requests your origins could not answer — not found (404), not processable (422), an origin error (502) or timeout (504) — as the edges report
          them every few seconds. The last 100 are kept, one per URL-endpoint, path and status.
        </p>
        {errors.loading && !errors.data ? (
          <Loading what="Loading recent delivery errors" />
        ) : errors.error ? (
          <ErrorBox error={errors.error} onRetry={errors.reload} title="Could not load the recent delivery errors" />
        ) : errors.data!.length === 0 ? (
          <p className="empty" data-testid="delivery-errors-empty">
            No delivery errors reported recently: every image requested was found.
          </p>
        ) : (
          <div className="table-wrap">
            <table className="stack" data-testid="delivery-errors">
              <caption className="visually-hidden">Recent delivery errors, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Path</th>
                  <th scope="col">Status</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Origins tried</th>
                  <th scope="col">When</th>
                </tr>
              </thead>
              <tbody>
                {errors.data!.map((e) => {
                  const names = originNames(e.originIds, origins.data);
                  const endpoint = endpointLabel(e.endpointId, endpoints.data);
                  return (
                    <tr key={`${e.endpointId} ${e.status} ${e.path}`} data-testid="delivery-error-row">
                      <td data-label="Path" className="mono">
                        {displayPath(e.path)}
                        {endpoint && <span className="muted"> ({endpoint})</span>}
                      </td>
                      <td data-label="Status">{e.status}</td>
                      <td data-label="Reason">{describeReason(e.reason, e.status)}</td>
                      <td data-label="Origins tried">
                        {names.length === 0 ? <span className="muted">none: the endpoint has no origin</span> : names.join(' → ')}
                      </td>
                      <td data-label="When">
                        <time dateTime={e.occurredAt} title={formatDateTime(e.occurredAt)}>
                          {formatAgo(e.occurredAt)}
                        </time>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section aria-labelledby="diagnose">
        <h2 id="diagnose">Finding out why an image is not found</h2>
        <ol className="steps-list">
          <li>
            Open the image URL and read the <code>X-Pictor-Error</code> response header: every error answer names its cause (for example{' '}
            <code>404 - not found on any origin</code> or <code>400 - unknown parameter …</code>).
          </li>
          <li>
            Check the URL-endpoint: the first path segment after your account is a URL prefix when it names one of your{' '}
            <Link to="/endpoints">URL-endpoints</Link>, otherwise the whole rest is a path on the default URL-endpoint.
          </li>
          <li>
            Check its origins: the edge asks each origin, in order, for <em>base URL + / + image path</em>. A 404, 403 or 410 moves on to the next origin; any
            other answer stops there. Open that origin URL yourself to see what it answers.
          </li>
          <li>
            A firewall may refuse the edges: see <Link to="/whitelisting">Whitelisting</Link>.
          </li>
          <li>
            Not-found answers are remembered for about a minute; after fixing the origin, wait or <Link to="/purge">purge</Link> the URL.
          </li>
          <li>
            The <Link to="/builder">URL builder</Link> shows the edge's answer and its headers for any path. <Link to="/usage">Usage</Link> counts every 4xx and
            5xx answer per day.
          </li>
        </ol>
      </section>
    </div>
  );
}
