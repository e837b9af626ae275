// The offline stand-in for Keycloak: npm's oidc-provider configured like compose/keycloak/pantheon-realm.json.
// Realm path /realms/pantheon (so the backend's Auth__Authority is the same URL shape as Keycloak's), the public client
// pantheon-frontend (authorization code with PKCE), realm roles pantheon-admin and pantheon-user as Keycloak puts them
// (realm_access.roles), audience "pantheon" in RS256 JWT access tokens, sessions of 30 minutes idle and 10 hours at most.
// When OIDC_TEST_CLIENT_SECRET is set, a confidential client pantheon-ci may take tokens with client credentials (for
// CI: its token's sub is the client id, its roles OIDC_TEST_CLIENT_ROLES).
import http from 'node:http';
import { generateKeyPairSync, webcrypto } from 'node:crypto';

// Debian bookworm's Node.js is 18: what oidc-provider 9 and jose 6 use of newer runtimes, given here.
globalThis.crypto ??= webcrypto;
URL.parse ??= (url, base) => { try { return new URL(url, base); } catch { return null; } };
const { default: Provider } = await import('oidc-provider');

const port = Number(process.env.PORT || 8080);
const realm = '/realms/pantheon';
const issuer = (process.env.OIDC_ISSUER || `http://localhost:${port}${realm}`).replace(/\/$/, '');
const frontend = (process.env.FRONTEND_URL || 'http://localhost:3000').replace(/\/$/, '');
const audience = process.env.OIDC_AUDIENCE || 'pantheon';
const admins = new Set((process.env.OIDC_ADMINS || '').split(',').filter(Boolean));
const testSecret = process.env.OIDC_TEST_CLIENT_SECRET || '';
const testRoles = (process.env.OIDC_TEST_CLIENT_ROLES || 'pantheon-user').split(',').filter(Boolean);

// A signing key of this process's own: tokens are checked against the JWKS, which the backend reads from discovery.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'pantheon-rs256', alg: 'RS256', use: 'sig' };

const clients = [{
  client_id: 'pantheon-frontend',
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  redirect_uris: [`${frontend}/`, `${frontend}/callback`],
  post_logout_redirect_uris: [`${frontend}/`],
}];
if (testSecret) {
  clients.push({
    client_id: 'pantheon-ci',
    client_secret: testSecret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
  });
}

const rolesOf = (subject, clientId) => {
  if (clientId === 'pantheon-ci') return testRoles;
  return admins.has(subject) ? ['pantheon-admin', 'pantheon-user'] : ['pantheon-user'];
};

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [jwk] },
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'email', 'offline_access'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'picture'] },
  // Any login the development interaction accepts is a user of this realm (there is no user store offline).
  findAccount: (ctx, sub) => ({
    accountId: sub,
    claims: () => ({ sub, email: `${sub}@pantheon.local`, email_verified: true, name: sub }),
  }),
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: Boolean(testSecret) },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => `urn:${audience}`, // a resource indicator is an absolute URI; the audience is the name
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'openid profile email',
        audience,
        accessTokenTTL: 5 * 60,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  // Keycloak's realm roles, where the backend reads them, and its token type claim.
  extraTokenClaims: (ctx, token) => {
    const subject = token.accountId || token.clientId;
    return { typ: 'Bearer', azp: token.clientId, realm_access: { roles: rolesOf(subject, token.clientId) },
      ...(token.accountId ? {} : { sub: token.clientId }) };
  },
  ttl: {
    AccessToken: 5 * 60,
    ClientCredentials: 5 * 60,
    Session: 10 * 60 * 60,
    Interaction: 60 * 60,
    Grant: 10 * 60 * 60,
    IdToken: 5 * 60,
    RefreshToken: 30 * 60,
  },
  cookies: { keys: [jwk.d.slice(0, 32)] },
});
provider.proxy = true;

const server = http.createServer((req, res) => {
  if (req.url === '/health' || req.url === `${realm}/health`) {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"UP"}');
    return;
  }
  if (!req.url.startsWith(`${realm}/`) && req.url !== realm) {
    res.writeHead(404).end();
    return;
  }
  // Served under the realm's path, as Keycloak serves it: the provider sees the rest of the path.
  req.originalUrl = req.url;
  req.url = req.url.slice(realm.length) || '/';
  provider.callback()(req, res);
});
server.listen(port, '0.0.0.0', () => console.log(`oidc: ${issuer} on :${port}`));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
