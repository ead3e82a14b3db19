import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * GET /api/dashboard's page: index.html with dashboard.css and dashboard.js inlined, so the page is
 * one response with no build step and nothing fetched from elsewhere (the app may run locked down
 * or offline). The Content-Security-Policy allows exactly that style and that script (by their
 * SHA-256), and connections to this origin only: no other script runs, nothing loads from anywhere.
 */

export interface DashboardPage {
  html: string;
  contentSecurityPolicy: string;
}

const hashOf = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** The dashboard folder, from the sources (tsx) or from dist/ (its files are not compiled, so they stay beside the sources). */
function dashboardFolder(): string {
  for (let folder = __dirname; ; folder = path.dirname(folder)) {
    const candidate = path.join(folder, 'dashboard', 'index.html');
    if (existsSync(candidate)) return path.dirname(candidate);
    if (existsSync(path.join(folder, 'index.html')) && existsSync(path.join(folder, 'dashboard.js'))) return folder;
    if (path.dirname(folder) === folder) throw new Error(`No dashboard/index.html above ${__dirname}.`);
  }
}

let page: DashboardPage | undefined;

export function dashboardPage(): DashboardPage {
  if (page) return page;
  const folder = dashboardFolder();
  const read = (name: string) => readFileSync(path.join(folder, name), 'utf8');
  // The inlined text must be exactly what is hashed: no indentation added around it.
  const style = `\n${read('dashboard.css')}`;
  const script = `\n${read('dashboard.js')}`;
  const html = read('index.html')
    .replace(/<style>\s*\/\*STYLE\*\/\s*<\/style>/, () => `<style>${style}</style>`)
    .replace(/<script>\s*\/\*SCRIPT\*\/\s*<\/script>/, () => `<script>${script}</script>`);
  const contentSecurityPolicy = [
    "default-src 'none'",
    `script-src ${hashOf(script)}`,
    `style-src ${hashOf(style)}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  page = { html, contentSecurityPolicy };
  return page;
}
