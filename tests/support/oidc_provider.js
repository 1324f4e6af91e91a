// A real OpenID provider for the tests: the certified `oidc-provider` package (npm),
// on 127.0.0.1 at a free port, with one static client and its own login page
// (devInteractions: any login, any password). Prints `issuer <url>` once it listens.
//
// Usage: node oidc_provider.js <oidc-provider package dir> <state.json>
//   env CLIENT_ID, CLIENT_SECRET, REDIRECT_URI
//
// state.json is read again at every use, so a test changes a person's groups, or
// makes the provider misbehave, by writing it:
//   {"accounts": {"<login>": {"email": "...", "email_verified": true, "name": "...",
//                             "groups": ["..."]}},
//    "misbehave": null | "tampered" | "audience" | "expired" | "claims-in-userinfo"}
// - tampered: the ID token's payload is changed after the provider signed it;
// - audience: the provider signs an ID token for another client;
// - expired: the provider signs an ID token that expired a minute ago;
// - claims-in-userinfo: the ID token carries only `sub`; the rest is in userinfo.

import * as http from 'node:http';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

const [packageDir, stateFile] = process.argv.slice(2);
const { default: Provider } = await import(pathToFileURL(path.join(packageDir, 'lib', 'index.js')).href);

const state = () => JSON.parse(fs.readFileSync(stateFile, 'utf8'));
const misbehaving = () => state().misbehave || null;

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: process.env.CLIENT_ID,
      client_secret: process.env.CLIENT_SECRET,
      redirect_uris: [process.env.REDIRECT_URI],
      response_types: ['code'],
      grant_types: ['authorization_code'],
    }],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
    // Like Entra ID, Google and Keycloak: the claims asked for are in the ID token too.
    conformIdTokenClaims: false,
    cookies: { keys: ['a test cookie key, not a secret'] },
    async findAccount(ctx, id) {
      const account = state().accounts[id];
      if (!account) return undefined;
      return {
        accountId: id,
        async claims(use) {
          if (use === 'id_token' && misbehaving() === 'claims-in-userinfo') return { sub: id };
          return { sub: id, ...account };
        },
      };
    },
  });
  provider.proxy = false;

  // Misbehaving on purpose, inside the real provider: it signs what it is made to.
  const issue = provider.IdToken.prototype.issue;
  provider.IdToken.prototype.issue = async function (options = {}) {
    if (options.use === 'idtoken') {
      if (misbehaving() === 'expired') {
        return issue.call(this, { ...options, expiresAt: Math.floor(Date.now() / 1000) - 60 });
      }
      if (misbehaving() === 'audience') {
        const client = this.client;
        this.client = new Proxy(client, {
          get: (target, key) => (key === 'clientId' ? 'another-application' : Reflect.get(target, key, target)),
        });
        try { return await issue.call(this, options); } finally { this.client = client; }
      }
    }
    return issue.call(this, options);
  };
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/token' && misbehaving() === 'tampered' && ctx.body && ctx.body.id_token) {
      const [header, payload, signature] = ctx.body.id_token.split('.');
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
      claims.email = 'mallory@elsewhere.example';
      claims.groups = ['gatehouse-admins'];
      const altered = Buffer.from(JSON.stringify(claims)).toString('base64url');
      ctx.body = { ...ctx.body, id_token: [header, altered, signature].join('.') };
    }
  });

  server.on('request', provider.callback());
  console.log(`issuer ${issuer}`);
});
