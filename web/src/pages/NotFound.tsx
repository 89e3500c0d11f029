import { Link } from 'react-router';
import { PageHeader } from '../components/ui';
import { useTitle } from '../lib/hooks';

export function NotFoundPage() {
  useTitle('Page not found');
  return (
    <div>
      <PageHeader title="Page not found" />
      <p>There is no dashboard page at this address.</p>
      <p>
        <Link to="/origins">Go to your origins</Link>
      </p>
    </div>
  );
}
