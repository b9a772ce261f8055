import express from 'express';
import helmet from 'helmet';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/index.js';
import { securityHeaders } from './middleware.js';

function headersOf(middleware: express.RequestHandler) {
  const app = express();
  app.disable('x-powered-by');
  app.use(middleware);
  app.get('/', (_req, res) => { res.send('ok'); });
  return request(app).get('/');
}

describe('securityHeaders', () => {
  it.each(['http://localhost:3000', 'https://cairn.example'])('replays exactly the headers helmet sets per request (%s)', async (publicUrl) => {
    const config = loadConfig({ CAIRN_PUBLIC_URL: publicUrl, CAIRN_CONTENT_URL: 'https://content.example' });
    const live = helmet({
      contentSecurityPolicy: { useDefaults: true, directives: { 'default-src': ["'self'"], 'img-src': ["'self'", 'data:'], 'frame-src': ["'self'", config.contentUrl], 'frame-ancestors': ["'self'"], 'upgrade-insecure-requests': publicUrl.startsWith('https:') ? [] : null } },
      strictTransportSecurity: publicUrl.startsWith('https:'),
      crossOriginEmbedderPolicy: false,
    });
    const pick = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).filter(([k]) => !['date', 'etag', 'content-length', 'content-type', 'connection', 'keep-alive'].includes(k)));
    const expected = pick((await headersOf(live)).headers as Record<string, string>);
    const actual = pick((await headersOf(securityHeaders(config))).headers as Record<string, string>);
    expect(actual).toEqual(expected);
    expect(actual['content-security-policy']).toContain("frame-src 'self' https://content.example");
    expect(Boolean(actual['strict-transport-security'])).toBe(publicUrl.startsWith('https:'));
  });
});
