import { Link } from 'react-router';
import { PageHeader } from '../components/ui';
import { useTitle } from '../lib/hooks';

/**
 * "Not found" help. The account's recent delivery errors would come from
 * the edges, but edges do not report individual errors to the control plane
 * yet (only per-day counters): this page says so instead of inventing data,
 * and explains how to diagnose a 404 today.
 */
export function NotFoundHelpPage() {
  useTitle('Not-found help');
  return (
    <div>
      <PageHeader title="Not-found help" />
      <section className="card" data-testid="not-found-unavailable">
        <h2>Recent delivery errors are not available yet</h2>
        <p>
          This page is meant to list your account's recent failed image requests — the path, the origins tried and what each answered. That needs the edges to
          report individual delivery errors to the control plane, which this version of Pictor does not do yet: edges report only daily counts (see{' '}
          <Link to="/usage">Usage</Link> for the number of 4xx and 5xx answers).
        </p>
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
            The <Link to="/builder">URL builder</Link> shows the edge's answer and its headers for any path.
          </li>
        </ol>
      </section>
    </div>
  );
}
