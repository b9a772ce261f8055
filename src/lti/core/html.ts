import { createHash } from 'node:crypto';
import { ltiErrorCatalogue, type LtiErrorCode } from './errors.js';

/**
 * The few HTML pages LTI needs (login relay, launch relay, registration close, errors). They
 * are framed by an LMS, so they carry their own headers: any ancestor may frame them, scripts
 * come only from Cairn's origin (/lti/assets/*.js, no inline script), and the one stylesheet
 * is allowed by its hash.
 */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const css = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:2rem;color:#1f2933;background:#fff;line-height:1.5}
main{max-width:42rem;margin:0 auto}h1{font-size:1.4rem;margin:0 0 1rem}.muted{color:#616e7c;font-size:.9rem}
.box{border:1px solid #d9e2ec;border-radius:8px;padding:1rem 1.25rem;margin:1rem 0}.error{border-color:#e12d39;background:#fff5f5}
a.button,button{display:inline-block;background:#2f5fd0;color:#fff;border:0;border-radius:6px;padding:.55rem 1rem;font-size:1rem;text-decoration:none;cursor:pointer}
ul.items{list-style:none;padding:0}ul.items li{padding:.6rem .8rem;border-bottom:1px solid #eef2f6}ul.items li.current{background:#eef4ff;font-weight:600}
code{background:#f0f4f8;padding:.1rem .3rem;border-radius:4px}`;
const cssHash = `'sha256-${createHash('sha256').update(css).digest('base64')}'`;

export interface Page {
  readonly status: number;
  readonly html: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface PageOptions {
  readonly title: string;
  /** Trusted HTML: callers escape every value they interpolate. */
  readonly body: string;
  readonly scripts?: readonly string[];
  /** Origins forms on the page may post to, besides Cairn's own. */
  readonly formTargets?: readonly string[];
  readonly status?: number;
  readonly lang?: string;
}

export function renderPage(options: PageOptions): Page {
  const scripts = (options.scripts ?? []).map((src) => `<script src="${escapeHtml(src)}"></script>`).join('');
  const html = `<!doctype html><html lang="${escapeHtml(options.lang ?? 'en')}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">`
    + `<meta name="referrer" content="no-referrer"><title>${escapeHtml(options.title)}</title><style>${css}</style></head>`
    + `<body><main>${options.body}</main>${scripts}</body></html>`;
  const csp = [
    `default-src 'none'`,
    `script-src 'self'`,
    `style-src ${cssHash}`,
    `img-src 'self' data:`,
    `form-action 'self' ${(options.formTargets ?? []).join(' ')}`.trim(),
    // Framed by whichever LMS launched Cairn (Canvas frames from the institution's own domain).
    `frame-ancestors *`,
    `base-uri 'none'`,
  ].join('; ');
  return {
    status: options.status ?? 200,
    html,
    headers: {
      'Content-Security-Policy': csp,
      'Cache-Control': 'no-store',
      // An LMS opens registration and launch windows and listens for their postMessages.
      'Cross-Origin-Opener-Policy': 'unsafe-none',
    },
  };
}

/** An auto-submitting form (id_token form_post, launch relay). Works without script via the button. */
export function autoPostForm(options: { title: string; action: string; fields: Readonly<Record<string, string>>; formTargets?: readonly string[]; message?: string }): Page {
  const inputs = Object.entries(options.fields).map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`).join('');
  return renderPage({
    title: options.title,
    body: `<form id="cairn-autopost" method="post" action="${escapeHtml(options.action)}">${inputs}<p class="muted">${escapeHtml(options.message ?? 'Continuing…')}</p><noscript><button type="submit">Continue</button></noscript></form>`,
    scripts: ['/lti/assets/autopost.js'],
    ...(options.formTargets ? { formTargets: options.formTargets } : {}),
  });
}

/** The human page for a refused launch or registration: what happened, what to do, a reference. No stack, no token. */
export function errorPage(code: LtiErrorCode, options: { reference?: string; detail?: string; action?: { label: string; href: string; newWindow?: boolean } } = {}): Page {
  const entry = ltiErrorCatalogue[code];
  const action = options.action
    ? `<p><a class="button" href="${escapeHtml(options.action.href)}"${options.action.newWindow ? ' target="_blank" rel="noopener"' : ''}>${escapeHtml(options.action.label)}</a></p>`
    : '';
  const body = `<h1>${escapeHtml(entry.title)}</h1>`
    + `<div class="box error"><p>${escapeHtml(entry.hint)}</p>${options.detail ? `<p class="muted">${escapeHtml(options.detail)}</p>` : ''}</div>`
    + action
    + `<p class="muted">If this keeps happening, send your administrator this code and reference: <code>${escapeHtml(code)}</code>${options.reference ? ` · <code>${escapeHtml(options.reference)}</code>` : ''}</p>`;
  return renderPage({ title: entry.title, body, status: entry.status });
}
