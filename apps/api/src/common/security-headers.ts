import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/** Where Swagger UI is served (SwaggerModule.setup('docs')). */
const DOCS_PREFIX = '/docs';

type Directives = Record<string, string[]>;

const serialize = (directives: Directives) =>
  Object.entries(directives)
    .map(([name, values]) => [name, ...values].join(' '))
    .join('; ');

/**
 * The API's Content-Security-Policy: its own origin only, plus the web page's inline blocks by
 * hash. No 'unsafe-inline' for scripts anywhere. Not upgrade-insecure-requests: the API is often
 * reached over plain HTTP on a LAN, where upgrading would break the page.
 */
export function apiCsp(page: { scripts: string[]; styles: string[] }): Directives {
  return {
    'default-src': ["'self'"],
    'script-src': ["'self'", ...page.scripts],
    'style-src': ["'self'", ...page.styles],
    // The page shows the chosen file through a blob: URL; results come from the API itself.
    'img-src': ["'self'", 'blob:', 'data:'],
    'connect-src': ["'self'"],
    'object-src': ["'none'"],
    'base-uri': ["'self'"],
    'form-action': ["'self'"],
    'frame-ancestors': ["'none'"],
  };
}

/**
 * Swagger UI's page has an inline <style>, style="" attributes and data: SVG icons, and swagger-ui
 * sets inline styles as it renders: styles may be inline under /docs, scripts still may not.
 */
export function docsCsp(page: { scripts: string[]; styles: string[] }): Directives {
  return { ...apiCsp(page), 'style-src': ["'self'", "'unsafe-inline'"] };
}

/**
 * helmet's headers on every answer; /docs gets its own, looser style-src. Cross-Origin-Resource-
 * Policy is same-origin unless origins are listed (API_CORS_ORIGINS): their pages may then show a
 * result image with <img>, which CORS does not cover.
 */
export async function installSecurityHeaders(
  fastify: FastifyInstance,
  page: { scripts: string[]; styles: string[] },
  crossOrigin: boolean,
): Promise<void> {
  await fastify.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: apiCsp(page) },
    crossOriginResourcePolicy: { policy: crossOrigin ? 'cross-origin' : 'same-origin' },
  });
  const docs = serialize(docsCsp(page));
  fastify.addHook('onSend', (request, reply, _payload, done) => {
    if (request.url === DOCS_PREFIX || request.url.startsWith(`${DOCS_PREFIX}/`)) void reply.header('content-security-policy', docs);
    done();
  });
}
