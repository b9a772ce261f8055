import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import type { TestPlatform, TokenTweak } from './platform.js';

/**
 * The LTI Advantage services of the test platform, written with jose and express only (nothing
 * from src/lti), on their own port beside TestPlatform: an OAuth2 token endpoint that verifies
 * the tool's JWT client assertion against Cairn's published JWKS and issues bearer tokens with
 * scopes; an AGS server (line items container with filters and Link paging, line item creation,
 * scores); an NRPS membership service with Link paging; and the Deep Linking return endpoint,
 * which verifies the response JWT with Cairn's JWKS. Tests inject failures through the hooks.
 */
export const scopes = {
  lineItem: 'https://purl.imsglobal.org/spec/lti-ags/scope/lineitem',
  lineItemReadonly: 'https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly',
  score: 'https://purl.imsglobal.org/spec/lti-ags/scope/score',
  resultReadonly: 'https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly',
  nrps: 'https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly',
} as const;
const knownScopes = new Set<string>(Object.values(scopes));

const ltiClaim = (name: string) => `https://purl.imsglobal.org/spec/lti/claim/${name}`;
const dlClaim = (name: string) => `https://purl.imsglobal.org/spec/lti-dl/claim/${name}`;

export interface IssuedToken {
  readonly token: string;
  readonly scopes: readonly string[];
  readonly expiresAt: number;
  readonly assertion: JWTPayload;
  readonly assertionHeader: Record<string, unknown>;
}

export interface LineItem {
  id: string;
  context: string;
  label: string;
  scoreMaximum: number;
  resourceId?: string;
  resourceLinkId?: string;
  tag?: string;
}

export interface ReceivedScore {
  readonly lineItemId: string;
  readonly token: string;
  readonly contentType: string | undefined;
  readonly body: Record<string, unknown>;
  readonly status: number;
}

export interface Member {
  user_id: string;
  roles: string[];
  status?: 'Active' | 'Inactive' | 'Deleted';
  name?: string;
  given_name?: string;
  family_name?: string;
  email?: string;
}

export interface DeepLinkReturn {
  readonly verified: boolean;
  readonly error?: string;
  readonly header: Record<string, unknown>;
  readonly payload: Record<string, unknown>;
}

type Answer = { status: number; body?: unknown; headers?: Record<string, string> };

export class PlatformServices {
  baseUrl = '';
  /** Seconds a token lives. */
  tokenLifetime = 3600;
  readonly tokenRequests: { scope: string[]; status: number; error?: string }[] = [];
  readonly tokens = new Map<string, IssuedToken>();
  readonly lineItems = new Map<string, LineItem>();
  readonly lineItemRequests: { method: string; url: string; token: string }[] = [];
  readonly scores: ReceivedScore[] = [];
  /** Line items per page of the container (Link rel=next beyond). */
  lineItemsPageSize = 2;
  /** Answer every container GET with all line items, as platforms that ignore the AGS filters do. */
  ignoreLineItemFilters = false;
  /** Decides the answer to a score POST before it is accepted; undefined = accept. */
  scoreHook: ((score: { lineItemId: string; body: Record<string, unknown>; attempt: number }) => Answer | undefined) | undefined;
  readonly rosters = new Map<string, { contextId: string; members: Member[] }>();
  readonly membershipRequests: { url: string; token: string }[] = [];
  membershipPageSize = 3;
  membershipHook: ((request: { context: string; page: number }) => Answer | undefined) | undefined;
  readonly deepLinkReturns: DeepLinkReturn[] = [];
  /** The deployment id the deep-linking response must carry. */
  expectedDeploymentId = '';
  private readonly usedJtis = new Set<string>();
  private server: http.Server | undefined;

  private constructor(private readonly platform: TestPlatform) {}

  get tokenUrl(): string { return `${this.baseUrl}/token`; }
  get deepLinkReturnUrl(): string { return `${this.baseUrl}/deep-link-return`; }
  lineItemsUrl(context: string): string { return `${this.baseUrl}/${context}/lineitems`; }
  lineItemUrl(item: LineItem): string { return `${this.baseUrl}/${item.context}/lineitems/${item.id}`; }
  membershipsUrl(context: string): string { return `${this.baseUrl}/${context}/memberships`; }

  static async start(platform: TestPlatform): Promise<PlatformServices> {
    const services = new PlatformServices(platform);
    services.expectedDeploymentId = platform.deploymentId;
    await services.listen();
    return services;
  }

  addLineItem(context: string, fields: Omit<LineItem, 'id' | 'context'>): LineItem {
    const item = { id: randomUUID(), context, ...fields };
    this.lineItems.set(item.id, item);
    return item;
  }

  scoresFor(lineItemId: string): ReceivedScore[] {
    return this.scores.filter((s) => s.lineItemId === lineItemId && s.status < 300);
  }

  /**
   * Claims for the next launch: the AGS endpoint of `context` (with `lineitem` when given) and
   * its NRPS membership service, replacing the placeholders TestPlatform puts in.
   */
  serviceClaims(context: string, options: { lineItem?: LineItem; agsScopes?: string[]; ags?: boolean; nrps?: boolean } = {}): (claims: Record<string, unknown>) => Record<string, unknown> {
    return (claims) => ({
      ...claims,
      'https://purl.imsglobal.org/spec/lti-ags/claim/endpoint': options.ags === false ? undefined : {
        scope: options.agsScopes ?? [scopes.lineItem, scopes.score, scopes.resultReadonly],
        lineitems: this.lineItemsUrl(context),
        ...(options.lineItem ? { lineitem: this.lineItemUrl(options.lineItem) } : {}),
      },
      'https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice': options.nrps === false ? undefined : {
        context_memberships_url: this.membershipsUrl(context), service_versions: ['2.0'],
      },
    });
  }

  /** A TokenTweak making the next id_token an LtiDeepLinkingRequest with these settings. */
  deepLinkingTweak(settings: Record<string, unknown> = {}, more?: (claims: Record<string, unknown>) => Record<string, unknown>): TokenTweak {
    return {
      claims: (claims) => {
        const base = {
          ...claims,
          [ltiClaim('message_type')]: 'LtiDeepLinkingRequest',
          [ltiClaim('resource_link')]: undefined,
          'https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings': {
            deep_link_return_url: this.deepLinkReturnUrl,
            accept_types: ['ltiResourceLink'],
            accept_presentation_document_targets: ['iframe', 'window'],
            accept_multiple: true,
            accept_lineitem: true,
            auto_create: true,
            ...settings,
          },
        };
        return more ? more(base) : base;
      },
    };
  }

  private bearer(req: express.Request, res: express.Response, needs: readonly string[]): string | undefined {
    const header = req.get('authorization') ?? '';
    const token = /^Bearer (.+)$/.exec(header)?.[1];
    const issued = token ? this.tokens.get(token) : undefined;
    if (!token || !issued || issued.expiresAt <= this.platform.now()) {
      res.status(401).json({ error: 'invalid_token' });
      return undefined;
    }
    if (!needs.some((s) => issued.scopes.includes(s))) {
      res.status(403).json({ error: 'insufficient_scope' });
      return undefined;
    }
    return token;
  }

  private async listen(): Promise<void> {
    const app = express();
    app.use(express.urlencoded({ extended: false }));
    app.use(express.json({ type: ['application/json', 'application/*+json'] }));
    const jwks = () => createRemoteJWKSet(new URL(this.platform.toolJwksUrl));

    // OAuth2 client credentials with a JWT client assertion (RFC 7523, LTI Security Framework §4.1).
    app.post('/token', async (req, res) => {
      const b = req.body as Record<string, string>;
      const requested = (b['scope'] ?? '').split(' ').filter(Boolean);
      const refuse = (status: number, error: string, description: string) => {
        this.tokenRequests.push({ scope: requested, status, error: description });
        res.status(status).json({ error, error_description: description });
      };
      if (b['grant_type'] !== 'client_credentials') return refuse(400, 'unsupported_grant_type', 'grant_type');
      if (b['client_assertion_type'] !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' || !b['client_assertion']) return refuse(400, 'invalid_request', 'client_assertion');
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(b['client_assertion'], jwks(), {
          issuer: this.platform.clientId, subject: this.platform.clientId, audience: this.tokenUrl, algorithms: ['RS256'],
          requiredClaims: ['exp', 'iat', 'jti'], currentDate: new Date(this.platform.now()),
        }));
      } catch (error) {
        return refuse(401, 'invalid_client', (error as Error).message);
      }
      if (this.usedJtis.has(payload.jti!)) return refuse(401, 'invalid_client', 'jti replayed');
      this.usedJtis.add(payload.jti!);
      if (requested.length === 0 || requested.some((s) => !knownScopes.has(s))) return refuse(400, 'invalid_scope', `scope ${b['scope']}`);
      const token = `at-${randomUUID()}`;
      this.tokens.set(token, { token, scopes: requested, expiresAt: this.platform.now() + this.tokenLifetime * 1000, assertion: payload, assertionHeader: decodeProtectedHeader(b['client_assertion']) as Record<string, unknown> });
      this.tokenRequests.push({ scope: requested, status: 200 });
      res.json({ access_token: token, token_type: 'Bearer', expires_in: this.tokenLifetime, scope: requested.join(' ') });
    });

    // AGS line items container: filters and paging (AGS 2.0 §3.2).
    app.get('/:context/lineitems', (req, res) => {
      const token = this.bearer(req, res, [scopes.lineItem, scopes.lineItemReadonly]);
      if (!token) return;
      this.lineItemRequests.push({ method: 'GET', url: req.originalUrl, token });
      const q = req.query as Record<string, string>;
      const all = [...this.lineItems.values()].filter((i) => i.context === req.params.context && (this.ignoreLineItemFilters || (
        (!q['resource_link_id'] || i.resourceLinkId === q['resource_link_id'])
        && (!q['resource_id'] || i.resourceId === q['resource_id'])
        && (!q['tag'] || i.tag === q['tag']))));
      const offset = Number(q['offset'] ?? '0');
      const size = Math.min(this.lineItemsPageSize, Number(q['limit'] ?? this.lineItemsPageSize));
      const page = all.slice(offset, offset + size);
      if (offset + size < all.length) {
        const next = new URL(`${this.baseUrl}${req.originalUrl}`);
        next.searchParams.set('offset', String(offset + size));
        res.setHeader('Link', `<${next.toString()}>; rel="next"`);
      }
      res.type('application/vnd.ims.lis.v2.lineitemcontainer+json').send(JSON.stringify(page.map((i) => this.lineItemJson(i))));
    });

    app.post('/:context/lineitems', (req, res) => {
      const token = this.bearer(req, res, [scopes.lineItem]);
      if (!token) return;
      this.lineItemRequests.push({ method: 'POST', url: req.originalUrl, token });
      if (!req.is('application/vnd.ims.lis.v2.lineitem+json')) {
        res.status(415).json({ error: 'content type' });
        return;
      }
      const b = req.body as Record<string, unknown>;
      if (typeof b['label'] !== 'string' || typeof b['scoreMaximum'] !== 'number' || b['scoreMaximum'] <= 0) {
        res.status(400).json({ error: 'label and a positive scoreMaximum are required' });
        return;
      }
      const item = this.addLineItem(req.params.context, {
        label: b['label'], scoreMaximum: b['scoreMaximum'],
        ...(typeof b['resourceId'] === 'string' ? { resourceId: b['resourceId'] } : {}),
        ...(typeof b['resourceLinkId'] === 'string' ? { resourceLinkId: b['resourceLinkId'] } : {}),
        ...(typeof b['tag'] === 'string' ? { tag: b['tag'] } : {}),
      });
      res.status(201).type('application/vnd.ims.lis.v2.lineitem+json').send(JSON.stringify(this.lineItemJson(item)));
    });

    // Scores (AGS 2.0 §3.4).
    app.post('/:context/lineitems/:id/scores', (req, res) => {
      const token = this.bearer(req, res, [scopes.score]);
      if (!token) return;
      const item = this.lineItems.get(req.params.id);
      const body = req.body as Record<string, unknown>;
      const record = (status: number) => this.scores.push({ lineItemId: req.params.id, token, contentType: req.get('content-type'), body, status });
      if (!item || item.context !== req.params.context) {
        record(404);
        res.status(404).json({ error: 'no such line item' });
        return;
      }
      if (!req.is('application/vnd.ims.lis.v1.score+json')) {
        record(415);
        res.status(415).json({ error: 'content type' });
        return;
      }
      const problems: string[] = [];
      if (typeof body['userId'] !== 'string') problems.push('userId');
      if (typeof body['timestamp'] !== 'string' || Number.isNaN(Date.parse(body['timestamp']))) problems.push('timestamp');
      if (!['Initialized', 'Started', 'InProgress', 'Submitted', 'Completed'].includes(body['activityProgress'] as string)) problems.push('activityProgress');
      if (!['FullyGraded', 'Pending', 'PendingManual', 'Failed', 'NotReady'].includes(body['gradingProgress'] as string)) problems.push('gradingProgress');
      if (body['scoreGiven'] !== undefined && typeof body['scoreMaximum'] !== 'number') problems.push('scoreMaximum');
      if (problems.length > 0) {
        record(400);
        res.status(400).json({ error: `invalid ${problems.join(', ')}` });
        return;
      }
      const attempt = this.scores.filter((s) => s.lineItemId === req.params.id && s.body['userId'] === body['userId']).length + 1;
      const answer = this.scoreHook?.({ lineItemId: req.params.id, body, attempt });
      if (answer) {
        record(answer.status);
        for (const [k, v] of Object.entries(answer.headers ?? {})) res.setHeader(k, v);
        res.status(answer.status).json(answer.body ?? {});
        return;
      }
      record(204);
      res.status(204).end();
    });

    // NRPS membership container with Link paging (NRPS 2.0 §2.4).
    app.get('/:context/memberships', (req, res) => {
      const token = this.bearer(req, res, [scopes.nrps]);
      if (!token) return;
      this.membershipRequests.push({ url: req.originalUrl, token });
      const roster = this.rosters.get(req.params.context);
      if (!roster) {
        res.status(404).json({ error: 'no such context' });
        return;
      }
      if (req.get('accept') !== 'application/vnd.ims.lti-nrps.v2.membershipcontainer+json') {
        res.status(406).json({ error: 'accept' });
        return;
      }
      const page = Number((req.query as Record<string, string>)['page'] ?? '1');
      const answer = this.membershipHook?.({ context: req.params.context, page });
      if (answer) {
        res.status(answer.status).json(answer.body ?? {});
        return;
      }
      const limit = Number((req.query as Record<string, string>)['limit'] ?? this.membershipPageSize);
      const size = Math.min(this.membershipPageSize, limit);
      const members = roster.members.slice((page - 1) * size, page * size);
      if (page * size < roster.members.length) {
        const next = new URL(`${this.baseUrl}${req.originalUrl}`);
        next.searchParams.set('page', String(page + 1));
        // Several relations in one header, as Canvas sends them.
        res.setHeader('Link', `<${next.toString()}>; rel="next", <${this.baseUrl}${req.path}>; rel="first"`);
      }
      res.type('application/vnd.ims.lti-nrps.v2.membershipcontainer+json').send(JSON.stringify({
        id: `${this.baseUrl}${req.originalUrl}`,
        context: { id: roster.contextId, label: 'BIO101', title: 'Biology 101' },
        members,
      }));
    });

    // Deep Linking 2.0 §4.2: the tool posts a form with the JWT; the platform verifies it with the tool's keys.
    app.post('/deep-link-return', async (req, res) => {
      const jwt = (req.body as Record<string, string>)['JWT'] ?? '';
      let header: Record<string, unknown> = {};
      try {
        header = decodeProtectedHeader(jwt) as Record<string, unknown>;
        const { payload } = await jwtVerify(jwt, jwks(), { issuer: this.platform.clientId, audience: this.platform.issuer, algorithms: ['RS256'], requiredClaims: ['exp', 'iat', 'nonce'], currentDate: new Date(this.platform.now()) });
        const problems: string[] = [];
        if (payload[ltiClaim('message_type')] !== 'LtiDeepLinkingResponse') problems.push('message_type');
        if (payload[ltiClaim('version')] !== '1.3.0') problems.push('version');
        if (payload[ltiClaim('deployment_id')] !== this.expectedDeploymentId) problems.push('deployment_id');
        if (!Array.isArray(payload[dlClaim('content_items')])) problems.push('content_items');
        if (problems.length > 0) throw new Error(`bad ${problems.join(', ')}`);
        this.deepLinkReturns.push({ verified: true, header, payload: payload as Record<string, unknown> });
        res.type('html').send('<!doctype html><p>Content added.</p>');
      } catch (error) {
        let payload: Record<string, unknown> = {};
        try { payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>; } catch { /* not a JWT */ }
        this.deepLinkReturns.push({ verified: false, error: (error as Error).message, header, payload });
        res.status(400).type('html').send('<!doctype html><p>Invalid deep linking response.</p>');
      }
    });

    this.server = http.createServer(app);
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private lineItemJson(item: LineItem): Record<string, unknown> {
    return {
      id: this.lineItemUrl(item), label: item.label, scoreMaximum: item.scoreMaximum,
      ...(item.resourceId !== undefined ? { resourceId: item.resourceId } : {}),
      ...(item.resourceLinkId !== undefined ? { resourceLinkId: item.resourceLinkId } : {}),
      ...(item.tag !== undefined ? { tag: item.tag } : {}),
    };
  }

  /** The line item a line-item URL (as Cairn stores it) names. */
  lineItemByUrl(url: string): LineItem | undefined {
    return [...this.lineItems.values()].find((i) => this.lineItemUrl(i) === url);
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}
