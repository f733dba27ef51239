// A real OpenID provider on loopback for crates/chiase-server/tests/oidc.rs:
// the `oidc-provider` package (node_modules installed by `npm ci` here).
//
// Environment (set by the test):
//   OIDC_PORT            the port to listen on (127.0.0.1)
//   OIDC_REDIRECT_URI    chiase's callback, registered for the client
//   OIDC_POST_LOGOUT_URI where the provider may send the browser after sign-out
//   OIDC_CLIENT_SECRET   the client's secret (client id: "chiase")
//   OIDC_ACCOUNTS        JSON: { accountId: { claims... } }
//
// One confidential client, PKCE (S256) required, RP-initiated logout on,
// no development interactions: the login interaction is a minimal form
// (`POST /interaction/:uid/login` with `login=<accountId>`), and consent is
// granted without asking (a first-party client). Custom claims (`agency`,
// `chiase_role`) are released with the `openid` scope and put in the ID
// token itself.
import http from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
const redirectUri = process.env.OIDC_REDIRECT_URI;
const postLogoutUri = process.env.OIDC_POST_LOGOUT_URI;
const secret = process.env.OIDC_CLIENT_SECRET;
const accounts = JSON.parse(process.env.OIDC_ACCOUNTS || '{}');
if (!port || !redirectUri || !postLogoutUri || !secret) {
  console.error('OIDC_PORT, OIDC_REDIRECT_URI, OIDC_POST_LOGOUT_URI and OIDC_CLIENT_SECRET are needed');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'chiase',
      client_secret: secret,
      redirect_uris: [redirectUri],
      post_logout_redirect_uris: [postLogoutUri],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: true },
  },
  claims: {
    openid: ['sub', 'agency', 'chiase_role'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  conformIdTokenClaims: false,
  cookies: { keys: ['chiase-test-only-cookie-key'] },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const claims = accounts[id];
    if (!claims) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...claims }) };
  },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid profile email');
    await grant.save();
    return grant;
  },
});

const callback = provider.callback();

async function body(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function interaction(req, res) {
  const m = req.url.match(/^\/interaction\/([^/?]+)(\/login)?/);
  if (!m) return false;
  try {
    if (req.method === 'GET' && !m[2]) {
      const details = await provider.interactionDetails(req, res);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(
        `<!doctype html><title>Đăng nhập một cửa (test)</title><p>prompt: ${details.prompt.name}</p>` +
          `<form method="post" action="/interaction/${details.uid}/login"><input name="login"><button>Đăng nhập</button></form>`,
      );
      return true;
    }
    if (req.method === 'POST' && m[2]) {
      const form = await body(req);
      const login = form.get('login') || '';
      if (!accounts[login]) {
        await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'no such test account' });
      } else {
        await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
      }
      return true;
    }
  } catch (e) {
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end(String(e));
    return true;
  }
  return false;
}

const server = http.createServer(async (req, res) => {
  if (await interaction(req, res)) return;
  callback(req, res);
});
server.listen(port, '127.0.0.1', () => console.log(`oidc test provider at ${issuer}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
