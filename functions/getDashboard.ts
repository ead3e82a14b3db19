import { dashboardPage } from '../dashboard/dashboardPage';
import type { HttpResponseInit } from '@azure/functions';
import { defineHttp } from './runtime/defineFunction';

/**
 * GET /api/dashboard: the operators' page. The page itself holds no data (anonymous, like any
 * static page); everything it shows comes from the data API, which keeps its function keys: on
 * Azure, the page asks for a key. With DASHBOARD_REQUIRE_SIGN_IN, App Service Authentication signs
 * the reader in first: the platform sets X-MS-CLIENT-PRINCIPAL-ID for a signed-in reader only (it
 * removes the header from anything a client sends), so its absence means "not signed in".
 */

const SIGN_IN = '/.auth/login/aad?post_login_redirect_uri=/api/dashboard';
export const getDashboard = defineHttp({
  name: 'getDashboard',
  route: 'dashboard',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler:
    (deps) =>
    async (request): Promise<HttpResponseInit> => {
      if (deps.settings.DASHBOARD_REQUIRE_SIGN_IN && !request.headers.get('x-ms-client-principal-id')) {
        return { status: 302, headers: { location: SIGN_IN, 'cache-control': 'no-store' } };
      }
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
