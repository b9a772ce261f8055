import type { Logger } from 'pino';
import type { LtiConfig } from '../../../config/index.js';
import type { Db } from '../../../db/index.js';
import type { Clock } from '../../../deps.js';
import type { KeyRing } from '../../core/keys.js';
import { signJwt } from '../../core/signing.js';
import type { ClientRow, PlatformRow } from '../registrations/repository.js';

/**
 * The calls Cairn makes to a platform's LTI Advantage services (AGS and NRPS): an OAuth2
 * access token from the platform's token endpoint with a JWT client assertion (Security
 * Framework §4.1, RFC 7523 `private_key_jwt`), cached per platform client and scope set, and
 * plain HTTP with a timeout, a body limit and errors that keep what the platform answered.
 */
export const agsScopes = {
  lineItem: 'https://purl.imsglobal.org/spec/lti-ags/scope/lineitem',
  lineItemReadonly: 'https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly',
  score: 'https://purl.imsglobal.org/spec/lti-ags/scope/score',
  resultReadonly: 'https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly',
} as const;
export const nrpsScope = 'https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly';

export const mediaTypes = {
  lineItem: 'application/vnd.ims.lis.v2.lineitem+json',
  lineItemContainer: 'application/vnd.ims.lis.v2.lineitemcontainer+json',
  score: 'application/vnd.ims.lis.v1.score+json',
  membershipContainer: 'application/vnd.ims.lti-nrps.v2.membershipcontainer+json',
} as const;

/**
 * Why a service call failed, and whether trying again later can help. `status` is the HTTP
 * status when the platform answered; `body` an excerpt of its answer (shown to admins).
 */
export class ServiceCallError extends Error {
  constructor(
    message: string,
    readonly options: { readonly status?: number; readonly body?: string; readonly retryable: boolean; readonly retryAfterSeconds?: number; readonly stage: 'token' | 'line_item' | 'score' | 'membership' | 'configuration' },
  ) {
    super(message);
    this.name = 'ServiceCallError';
  }

  get status(): number | undefined { return this.options.status; }
  get body(): string | undefined { return this.options.body; }
  get retryable(): boolean { return this.options.retryable; }
}

const excerptLength = 2000;
export const excerpt = (text: string): string => (text.length > excerptLength ? `${text.slice(0, excerptLength)}…` : text);

/** Retry-After as seconds (delta or HTTP date), bounded to an hour. */
function retryAfter(header: string | null, now: number): number | undefined {
  if (!header) return undefined;
  const seconds = /^\d+$/.test(header.trim()) ? Number(header.trim()) : (Date.parse(header) - now) / 1000;
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 3600) : undefined;
}

export interface ServiceResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  json<T>(): T;
}

export interface ServiceHttpOptions {
  readonly timeoutMs?: number;
  readonly maxBytes?: number;
  readonly fetch?: typeof fetch;
}

/** Reads a body up to a limit: a platform (or something pretending to be one) cannot exhaust memory. */
async function readLimited(response: Response, maxBytes: number): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`the answer is larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** What a job calling a platform's services (AGS, NRPS) needs. */
export interface ServiceCallDeps {
  readonly db: Db;
  readonly clock: Clock;
  readonly log: Logger;
  readonly config: LtiConfig;
  readonly tokens: ServiceTokens;
  readonly http: ServiceHttp;
}

export class ServiceHttp {
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly fetchImpl: typeof fetch;

  constructor(options: ServiceHttpOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.maxBytes = options.maxBytes ?? 8 * 1024 * 1024;
    this.fetchImpl = options.fetch ?? fetch;
  }

  /**
   * One request. Network failures and timeouts become retryable ServiceCallErrors; any HTTP
   * answer is returned for the caller to judge. Redirects are followed for reads only: a
   * POST is never replayed somewhere else.
   */
  async request(stage: ServiceCallError['options']['stage'], url: string, init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string }): Promise<ServiceResponse> {
    let response: Response;
    try {
      response = await this.fetchImpl(url, {
        method: init.method, headers: init.headers, ...(init.body !== undefined ? { body: init.body } : {}),
        redirect: init.method === 'GET' ? 'follow' : 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new ServiceCallError(`${init.method} ${url} failed: ${(error as Error).message}`, { retryable: true, stage });
    }
    let text: string;
    try {
      text = await readLimited(response, this.maxBytes);
    } catch (error) {
      throw new ServiceCallError(`${init.method} ${url}: ${(error as Error).message}`, { status: response.status, retryable: false, stage });
    }
    return {
      status: response.status, headers: response.headers, text,
      json<T>() {
        try {
          return JSON.parse(text) as T;
        } catch {
          throw new ServiceCallError(`${init.method} ${url} answered ${response.status} with a body that is not JSON`, { status: response.status, body: excerpt(text), retryable: false, stage });
        }
      },
    };
  }

  /**
   * The error for an HTTP answer that is not a success: 5xx, 429 and 408 may pass, and so may a
   * 401 that a fresh token did not cure (a platform still caching an old key set); any other
   * 4xx is the platform's considered refusal and will not change by asking again.
   */
  static failure(stage: ServiceCallError['options']['stage'], what: string, response: ServiceResponse, now: number): ServiceCallError {
    const retryable = response.status >= 500 || response.status === 429 || response.status === 408 || response.status === 401;
    const after = retryAfter(response.headers.get('retry-after'), now);
    return new ServiceCallError(`${what} answered ${response.status}`, {
      status: response.status, body: excerpt(response.text), retryable, stage, ...(after !== undefined ? { retryAfterSeconds: after } : {}),
    });
  }
}

/** The `rel="next"` target of an RFC 8288 Link header, resolved against the request URL. */
export function nextLink(header: string | null, base: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (!match) continue;
    const rel = /(?:^|;)\s*rel\s*=\s*(?:"([^"]*)"|([^;\s]+))/i.exec(match[2]!);
    const values = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/);
    if (values.includes('next')) {
      try {
        return new URL(match[1]!, base).toString();
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** What a service call needs to know about the platform it talks to. */
export interface ServiceTarget {
  readonly platform: Pick<PlatformRow, 'id' | 'issuer' | 'token_url' | 'platform_configuration' | 'status'>;
  readonly client: Pick<ClientRow, 'id' | 'client_id'>;
}

/**
 * The audience of client assertions: the platform's declared `authorization_server` (LTI
 * Dynamic Registration lets a platform name one distinct from its token URL), else the token
 * endpoint itself, which is what Canvas, Moodle and the Security Framework expect.
 */
export function assertionAudience(platform: ServiceTarget['platform']): string | undefined {
  const declared = platform.platform_configuration?.['authorization_server'];
  if (typeof declared === 'string' && declared !== '') return declared;
  return platform.token_url ?? undefined;
}

interface CachedToken {
  readonly value: string;
  readonly refreshAt: number;
}

/**
 * Access tokens, cached in this process per platform client, token URL and scope set until
 * shortly before they expire. Concurrent requests for the same token share one call to the
 * token endpoint. A 401 from a service drops the token (`forget`) so the next call fetches a
 * fresh one.
 */
export class ServiceTokens {
  private readonly cache = new Map<string, CachedToken>();
  private readonly inFlight = new Map<string, Promise<CachedToken>>();
  /** Token requests made (a counter for metrics and tests of the cache). */
  requests = 0;

  constructor(private readonly deps: { keys: KeyRing; clock: Clock; log: Logger; http: ServiceHttp }) {}

  private key(target: ServiceTarget, scopes: readonly string[]): string {
    return `${target.client.id}\n${target.platform.token_url ?? ''}\n${[...new Set(scopes)].sort().join(' ')}`;
  }

  async token(target: ServiceTarget, scopes: readonly string[]): Promise<string> {
    const key = this.key(target, scopes);
    const cached = this.cache.get(key);
    if (cached && cached.refreshAt > this.deps.clock.now().getTime()) return cached.value;
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.fetchToken(target, scopes).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    const fresh = await pending;
    this.cache.set(key, fresh);
    return fresh.value;
  }

  forget(target: ServiceTarget, scopes: readonly string[]): void {
    this.cache.delete(this.key(target, scopes));
  }

  private async fetchToken(target: ServiceTarget, scopes: readonly string[]): Promise<CachedToken> {
    const tokenUrl = target.platform.token_url;
    const audience = assertionAudience(target.platform);
    if (!tokenUrl || !audience) {
      throw new ServiceCallError('The platform registration has no token URL, so Cairn cannot call its services. Add the token URL to the registration.', { retryable: false, stage: 'configuration' });
    }
    const nowMs = this.deps.clock.now().getTime();
    const assertion = await signJwt(this.deps.keys, {}, {
      issuer: target.client.client_id, subject: target.client.client_id, audience, jti: true, expiresIn: 300, now: Math.floor(nowMs / 1000),
    });
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
      scope: [...new Set(scopes)].sort().join(' '),
    });
    this.requests++;
    const response = await this.deps.http.request('token', tokenUrl, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: body.toString(),
    });
    // A refused client (400 invalid_client / invalid_scope) is a registration problem and final;
    // a 401 may be the platform still holding an old copy of Cairn's JWKS, which passes.
    if (response.status !== 200) throw ServiceHttp.failure('token', 'The platform\'s token endpoint', response, nowMs);
    const answer = response.json<{ access_token?: unknown; expires_in?: unknown; token_type?: unknown }>();
    if (typeof answer.access_token !== 'string' || answer.access_token === '') {
      throw new ServiceCallError('The platform\'s token endpoint answered without an access_token', { status: 200, body: excerpt(response.text), retryable: false, stage: 'token' });
    }
    const lifetime = typeof answer.expires_in === 'number' && answer.expires_in > 0 ? answer.expires_in : 3600;
    // Refreshed a minute before expiry (or at half-life for short tokens), so a token never
    // expires between leaving the cache and reaching the platform.
    const margin = Math.min(60, lifetime / 2);
    this.deps.log.debug({ platformId: target.platform.id, scopes, lifetime }, 'LTI service token obtained');
    return { value: answer.access_token, refreshAt: this.deps.clock.now().getTime() + (lifetime - margin) * 1000 };
  }
}
