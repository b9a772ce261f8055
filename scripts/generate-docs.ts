/**
 * `npm run docs:generate`: writes the documents that are rendered from code, so the docs
 * cannot drift from what the code accepts. test/config/docs-sync.test.ts fails when a
 * committed file differs from what this produces now.
 *
 *   docs/configuration.md  ← src/config/definitions.ts (every environment variable)
 *   docs/errors.md         ← src/errors/index.ts (the closed list of problem codes)
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { renderConfigTable } from '../src/config/index.js';
import { renderErrorCatalogue } from '../src/errors/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const generatedNotice = (source: string) => `<!-- Generated from ${source} by \`npm run docs:generate\`; edit that file, not this one. -->`;

const configurationIntro = `# Configuration

${generatedNotice('src/config/definitions.ts')}

Cairn reads its settings from environment variables only; this table is rendered from
\`src/config/definitions.ts\`, the one place that lists them. At start every variable is
parsed and checked together: when anything is wrong Cairn prints **every** problem at once
and exits with status 78 (\`EX_CONFIG\`) before touching the database. The resulting
configuration is frozen; nothing else in the code reads \`process.env\`.

How values are written:

- **integer** — decimal digits, within the bounds shown in the type column
  (\`CAIRN_PORT=abc\` or \`CAIRN_PORT=70000\` is refused).
- **boolean** — \`true\`/\`false\`, \`1\`/\`0\`, \`yes\`/\`no\` or \`on\`/\`off\` (any case).
- **size** — a byte count or a number with \`b\`, \`kb\`, \`mb\` or \`gb\` (\`512kb\`, \`1mb\`; binary units).
- **list** — comma-separated; blanks around entries are ignored.
- **url** — absolute \`http(s)\` URL (\`DATABASE_URL\` is a \`postgres://\` connection string); a trailing
  slash is dropped.
- An empty value counts as unset, so the default applies.

**Secrets** (marked *secret*) have no default, are never logged, and should come from your
secret store. \`CAIRN_SECRET_KEY\` is required with \`DATABASE_URL\` and must be the same on every
node; with the embedded database Cairn generates it once into \`CAIRN_DATA_DIR/secret.key\`.
See [operations.md](operations.md) for how these settings fit together in a deployment.

`;

const errorsIntro = `# Error codes

${generatedNotice('src/errors/index.ts')}

Every error of the administration API (\`/api/v1\`), the probes and \`/metrics\` is an
[RFC 9457](https://www.rfc-editor.org/rfc/rfc9457) problem document with the media type
\`application/problem+json\`:

\`\`\`json
{
  "type": "https://cairn.dev/problems/validation-failed",
  "title": "Validation failed",
  "status": 400,
  "detail": "body.title must be string.",
  "instance": "/api/v1/courses",
  "code": "validation_failed",
  "request_id": "4b0c1f0e-6d1a-4c37-9d4e-0e8f5d1f2a77",
  "errors": [{ "pointer": "/body/title", "message": "must be string" }]
}
\`\`\`

\`code\` is always one of the codes below (rendered from \`src/errors/index.ts\`, a closed list), so
clients switch on it rather than on \`detail\`, whose wording may change. \`request_id\` equals the
\`X-Request-Id\` response header and appears on the server's log lines for that request; a 500
carries nothing else about the failure. \`503\` and \`429\` answers carry \`Retry-After\`.

Protocol endpoints keep the error shapes their specifications fix: the OAuth 2.0 token endpoint
(\`{"error": …}\`), xAPI status codes, SCORM \`GetLastError\`, and an HTML page for a failed browser
launch.

`;

/** Every generated document: repository-relative path → exact content. */
export function renderDocs(): Record<string, string> {
  return {
    'docs/configuration.md': configurationIntro + renderConfigTable(),
    'docs/errors.md': errorsIntro + renderErrorCatalogue(),
  };
}

async function main(): Promise<void> {
  for (const [file, content] of Object.entries(renderDocs())) {
    const target = path.join(root, file);
    const previous = await fs.readFile(target, 'utf8').catch(() => undefined);
    if (previous === content) {
      console.log(`unchanged ${file}`);
      continue;
    }
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.writeFile(target, content);
    console.log(`wrote     ${file}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await main();
}
