import { dashboardPage } from '../dashboard/dashboardPage';
import { defineHttp } from './runtime/defineFunction';

/**
 * GET /api/dashboard: the operators' page. The page itself holds no data (anonymous, like any
 * static page); everything it shows comes from the data API, which keeps its function keys: on
 * Azure, the page asks for a key. docs/deploy.md shows how to put it behind Entra sign-in.
 */
export const getDashboard = defineHttp({
  name: 'getDashboard',
  route: 'dashboard',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: () => async () => {
    const { html, contentSecurityPolicy } = dashboardPage();
    return {
      status: 200,
      body: html,
      headers: {
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': contentSecurityPolicy,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        'cache-control': 'no-cache',
      },
    };
  },
});
