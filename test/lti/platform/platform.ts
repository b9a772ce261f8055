import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { SignJWT, exportJWK, generateKeyPair, jwtVerify, createRemoteJWKSet, type CryptoKey, type JWK, type JWTPayload } from 'jose';

/**
 * A small LTI 1.3 platform (an LMS) for the tests, written with jose and nothing from
 * src/lti: Cairn's tool role is checked against an independent implementation of the other
 * side. It listens on 127.0.0.1 and serves what a real platform does: its JWKS, the OIDC
 * authentication endpoint (answering with an auto-posting form), an OAuth2 token endpoint
 * that accepts JWT client assertions, and — for Dynamic Registration — an openid-configuration
 * and a registration endpoint. Tests shape each id_token through `nextToken`.
 */
export interface PlatformUser {
  readonly sub: string;
  readonly name?: string;
  readonly given_name?: string;
  readonly family_name?: string;
  readonly email?: string;
  readonly roles: readonly string[];
}

export interface LinkSpec {
  readonly messageType?: string;
  readonly resourceLink?: { id: string; title?: string; description?: string };
  readonly context?: { id: string; label?: string; title?: string; type?: string[] } | null;
  readonly custom?: Record<string, string>;
  readonly deploymentId?: string;
}

export interface TokenTweak {
  /** Change or delete claims (return undefined for a key to delete it). */
  claims?: (claims: Record<string, unknown>) => Record<string, unknown>;
  header?: Record<string, unknown>;
  /** Sign with this key instead of the platform's (bad signature). */
  key?: CryptoKey;
  /** Send an unsigned token (`alg: none`). */
  unsigned?: boolean;
  /** Sign with another JWT library instead of jose (interop). */
  signer?: (claims: Record<string, unknown>, key: { kid: string; privateKey: CryptoKey }) => Promise<string>;
}

interface SigningKey { kid: string; privateKey: CryptoKey; publicJwk: JWK }

async function newKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = `platform-${randomUUID().slice(0, 8)}`;
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

const claim = (name: string) => `https://purl.imsglobal.org/spec/lti/claim/${name}`;
const escape = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export class TestPlatform {
  readonly keys: SigningKey[] = [];
  currentKid = '';
  baseUrl = '';
  clientId = `client-${randomUUID().slice(0, 8)}`;
  deploymentId = 'deployment-1';
  /** Redirect URIs the tool registered; the auth endpoint refuses any other. */
  toolRedirectUris: string[] = [];
  /** Cairn's JWKS URL, to verify client assertions at the token endpoint. */
  toolJwksUrl = '';
  /** The link's target (Cairn's launch URL): sent at login and as the id_token's target_link_uri. */
  toolTargetLinkUri = '';
  readonly users = new Map<string, PlatformUser>();
  readonly links = new Map<string, LinkSpec>();
  /** Applied to the next id_token only. */
  nextToken: TokenTweak | undefined;
  jwksHits = 0;
  readonly authRequests: Record<string, string>[] = [];
  readonly registrationRequests: { headers: http.IncomingHttpHeaders; body: Record<string, unknown> }[] = [];
  readonly configurationRequests: { authorization: string | undefined }[] = [];
  /** Answer to the Dynamic Registration POST; tests may change it. */
  registrationAnswer: (body: Record<string, unknown>) => { status: number; body: Record<string, unknown> } = (body) => ({
    status: 200,
    body: { ...body, client_id: this.clientId, 'https://purl.imsglobal.org/spec/lti-tool-configuration': { ...(body['https://purl.imsglobal.org/spec/lti-tool-configuration'] as object), deployment_id: this.deploymentId } },
  });
  registrationToken = `regtoken-${randomUUID()}`;
  /** Overrides for the openid-configuration document (e.g. a foreign issuer). */
  configurationOverrides: Record<string, unknown> = {};
  private server: http.Server | undefined;

  get issuer(): string { return this.baseUrl; }
  get authUrl(): string { return `${this.baseUrl}/auth`; }
  get tokenUrl(): string { return `${this.baseUrl}/token`; }
  get jwksUrl(): string { return `${this.baseUrl}/jwks`; }
  get configurationUrl(): string { return `${this.baseUrl}/.well-known/openid-configuration`; }

  static async start(): Promise<TestPlatform> {
    const platform = new TestPlatform();
    const key = await newKey();
    platform.keys.push(key);
    platform.currentKid = key.kid;
    await platform.listen();
    return platform;
  }

  /** A new signing key, published and used from now on (the old one stays published). */
  async rotateKey(): Promise<string> {
    const key = await newKey();
    this.keys.push(key);
    this.currentKid = key.kid;
    return key.kid;
  }

  private signingKey(): SigningKey {
    return this.keys.find((k) => k.kid === this.currentKid)!;
  }

  /** The claims of an LtiResourceLinkRequest for this user and link, as Canvas or Moodle would send. */
  claimsFor(params: { nonce: string; loginHint: string; messageHint: string; clientId: string; targetLinkUri: string }): Record<string, unknown> {
    const user = this.users.get(params.loginHint);
    const link = this.links.get(params.messageHint) ?? {};
    if (!user) throw new Error(`test platform: unknown login_hint ${params.loginHint}`);
    const now = Math.floor(this.now() / 1000);
    const context = link.context === undefined ? { id: 'course-1', label: 'BIO101', title: 'Biology 101', type: ['http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering'] } : link.context;
    return {
      iss: this.issuer, aud: params.clientId, sub: user.sub, iat: now, exp: now + 300, nonce: params.nonce,
      ...(user.name ? { name: user.name } : {}), ...(user.given_name ? { given_name: user.given_name } : {}),
      ...(user.family_name ? { family_name: user.family_name } : {}), ...(user.email ? { email: user.email } : {}),
      [claim('message_type')]: link.messageType ?? 'LtiResourceLinkRequest',
      [claim('version')]: '1.3.0',
      [claim('deployment_id')]: link.deploymentId ?? this.deploymentId,
      [claim('target_link_uri')]: params.targetLinkUri,
      [claim('resource_link')]: link.resourceLink ?? { id: `link-${params.messageHint}`, title: 'Week 1 quiz' },
      [claim('roles')]: [...user.roles],
      ...(context ? { [claim('context')]: context } : {}),
      [claim('tool_platform')]: { guid: 'test-platform', name: 'Test LMS', product_family_code: 'test' },
      [claim('launch_presentation')]: { document_target: 'iframe', locale: 'en' },
      [claim('custom')]: link.custom ?? {},
      'https://purl.imsglobal.org/spec/lti-ags/claim/endpoint': {
        scope: ['https://purl.imsglobal.org/spec/lti-ags/scope/lineitem', 'https://purl.imsglobal.org/spec/lti-ags/scope/score'],
        lineitems: `${this.baseUrl}/courses/1/lineitems`,
      },
      'https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice': { context_memberships_url: `${this.baseUrl}/courses/1/memberships`, service_versions: ['2.0'] },
    };
  }

  async sign(claims: Record<string, unknown>, tweak: TokenTweak = {}): Promise<string> {
    const finalClaims = tweak.claims ? tweak.claims({ ...claims }) : claims;
    for (const [k, v] of Object.entries(finalClaims)) if (v === undefined) delete finalClaims[k];
    if (tweak.unsigned) {
      const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      return `${enc({ alg: 'none', typ: 'JWT', ...tweak.header })}.${enc(finalClaims)}.`;
    }
    const key = this.signingKey();
    if (tweak.signer) return tweak.signer(finalClaims, key);
    return new SignJWT(finalClaims as JWTPayload)
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.kid, ...tweak.header } as { alg: string })
      .sign(tweak.key ?? key.privateKey);
  }

  private async listen(): Promise<void> {
    const app = express();
    app.use(express.urlencoded({ extended: false }));
    app.use(express.json());

    app.get('/jwks', (_req, res) => {
      this.jwksHits++;
      res.json({ keys: this.keys.map((k) => k.publicJwk) });
    });

    const auth = async (req: express.Request, res: express.Response) => {
      const q = (req.method === 'POST' ? req.body : req.query) as Record<string, string>;
      this.authRequests.push({ ...q });
      const problems: string[] = [];
      if (q['scope'] !== 'openid') problems.push('scope');
      if (q['response_type'] !== 'id_token') problems.push('response_type');
      if (q['response_mode'] !== 'form_post') problems.push('response_mode');
      if (q['prompt'] !== 'none') problems.push('prompt');
      if (q['client_id'] !== this.clientId) problems.push('client_id');
      if (!q['redirect_uri'] || !this.toolRedirectUris.includes(q['redirect_uri'])) problems.push('redirect_uri');
      if (!q['nonce']) problems.push('nonce');
      if (!q['state']) problems.push('state');
      if (!q['login_hint'] || !this.users.has(q['login_hint'])) problems.push('login_hint');
      if (problems.length > 0) {
        res.status(400).json({ error: 'invalid_request', error_description: `bad ${problems.join(', ')}` });
        return;
      }
      const claims = this.claimsFor({ nonce: q['nonce']!, loginHint: q['login_hint']!, messageHint: q['lti_message_hint'] ?? '', clientId: this.clientId, targetLinkUri: this.toolTargetLinkUri });
      const tweak = this.nextToken;
      this.nextToken = undefined;
      const idToken = await this.sign(claims, tweak);
      res.type('html').send(`<!doctype html><html><body><form id="f" method="post" action="${escape(q['redirect_uri']!)}">`
        + `<input type="hidden" name="id_token" value="${escape(idToken)}"><input type="hidden" name="state" value="${escape(q['state']!)}"></form>`
        + '<script>document.getElementById("f").submit()</script></body></html>');
    };
    app.get('/auth', auth);
    app.post('/auth', auth);

    // OAuth2 client credentials with a JWT client assertion (RFC 7523), verified against the tool's JWKS.
    app.post('/token', async (req, res) => {
      const b = req.body as Record<string, string>;
      if (b['grant_type'] !== 'client_credentials' || b['client_assertion_type'] !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' || !b['client_assertion']) {
        res.status(400).json({ error: 'invalid_request' });
        return;
      }
      try {
        const { payload } = await jwtVerify(b['client_assertion'], createRemoteJWKSet(new URL(this.toolJwksUrl)), { issuer: this.clientId, subject: this.clientId, audience: this.tokenUrl, algorithms: ['RS256'] });
        if (!payload.jti) throw new Error('no jti');
        res.json({ access_token: `at-${randomUUID()}`, token_type: 'Bearer', expires_in: 3600, scope: b['scope'] ?? '' });
      } catch (error) {
        res.status(401).json({ error: 'invalid_client', error_description: (error as Error).message });
      }
    });

    app.get('/.well-known/openid-configuration', (req, res) => {
      this.configurationRequests.push({ authorization: req.get('authorization') });
      res.json({
        issuer: this.issuer,
        authorization_endpoint: this.authUrl,
        token_endpoint: this.tokenUrl,
        jwks_uri: this.jwksUrl,
        registration_endpoint: `${this.baseUrl}/register`,
        scopes_supported: ['openid', 'https://purl.imsglobal.org/spec/lti-ags/scope/score', 'https://purl.imsglobal.org/spec/lti-ags/scope/lineitem', 'https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly'],
        response_types_supported: ['id_token'],
        id_token_signing_alg_values_supported: ['RS256'],
        token_endpoint_auth_methods_supported: ['private_key_jwt'],
        claims_supported: ['iss', 'sub', 'name', 'email'],
        'https://purl.imsglobal.org/spec/lti-platform-configuration': {
          product_family_code: 'moodle', version: '4.5',
          messages_supported: [{ type: 'LtiResourceLinkRequest' }, { type: 'LtiDeepLinkingRequest', placements: ['ContentArea'] }],
        },
        ...this.configurationOverrides,
      });
    });

    app.post('/register', (req, res) => {
      this.registrationRequests.push({ headers: req.headers, body: req.body as Record<string, unknown> });
      if (req.get('authorization') !== `Bearer ${this.registrationToken}`) {
        res.status(401).json({ error: 'invalid_token' });
        return;
      }
      const answer = this.registrationAnswer(req.body as Record<string, unknown>);
      res.status(answer.status).json(answer.body);
    });

    app.get('/lms/:name', (req, res) => {
      const html = this.extraPages.get(req.params.name);
      if (html === undefined) res.status(404).end();
      else res.type('html').send(html);
    });

    this.server = http.createServer(app);
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The platform's clock (tests share Cairn's movable one). */
  now: () => number = Date.now;
  /** Pages of the "LMS" itself, served at /lms/<name> (the browser test's course page). */
  readonly extraPages = new Map<string, string>();

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}
