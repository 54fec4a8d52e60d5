// An OpenID Connect identity provider for tests/test_browser_signin.py: oauth2-mock-server
// (package.json) on 127.0.0.1 at a free port. It signs in whoever asks, as the person whose
// email is the first argument, prints its issuer URL on one line, and runs until it is stopped.
//
//     node tests/oidc_provider.mjs ada@example.org
import { OAuth2Server } from "oauth2-mock-server";

const email = process.argv[2];
if (!email) {
  console.error("usage: node tests/oidc_provider.mjs EMAIL");
  process.exit(2);
}
const server = new OAuth2Server();
await server.issuer.keys.generate("RS256");
// The identity token's claims: the mock's "johndoe" with the person's email and name.
server.service.on("beforeTokenSigning", (token) => {
  Object.assign(token.payload, { email, name: email.split("@")[0] });
});
await server.start(0, "127.0.0.1");
// The issuer as the app reaches it (the mock names it "localhost", which may not be 127.0.0.1).
server.issuer.url = `http://127.0.0.1:${server.address().port}`;
console.log(server.issuer.url);
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, async () => {
    await server.stop();
    process.exit(0);
  });
}
