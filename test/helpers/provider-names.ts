// Finds providers named by hand: a provider's name, title, secret variables, signature headers or
// default account id written in code or SQL that should read them from the descriptors
// (src/webhooks/providers). Code is read through the TypeScript parser, so only identifiers and
// string literals count, never comments; shell and SQL lose their comments first.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import ts from 'typescript';
import type { WebhookProvider } from '../../src/webhooks/providers/index.js';

export interface Finding {
  /** Relative to the repository root. */
  file: string;
  line: number;
  provider: string;
  /** What was written: the identifier or string, shortened. */
  text: string;
}

export interface Source {
  file: string;
  text: string;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Each provider's marks: what only its descriptor (and the files it owns) may write. */
export function marksOf(provider: WebhookProvider): RegExp[] {
  const variables = [provider.secret.name, ...(provider.handshake ? [provider.handshake.token.name] : [])];
  return [
    // The name as a word: 'stripe', /webhooks/stripe, stripe-signature, PROVIDERS.stripe.
    new RegExp(`(?<![A-Za-z0-9_$])${escapeRegExp(provider.name)}(?![A-Za-z0-9_$])`),
    new RegExp(`(?<![A-Za-z0-9_$])${escapeRegExp(provider.title)}(?![A-Za-z0-9_$])`),
    ...variables.map((name) => new RegExp(`(?<![A-Za-z0-9_])${escapeRegExp(name)}`)),
    ...provider.signedHeaders.map(
      (header) => new RegExp(`(?<![a-z0-9-])${escapeRegExp(header)}(?![a-z0-9-])`, 'i'),
    ),
    new RegExp(escapeRegExp(provider.defaultIntegrationId), 'i'),
  ];
}

/** The pieces of a file that can name something: [line, text] pairs. */
function piecesOf(source: Source): [number, string][] {
  const extension = path.extname(source.file);
  if (extension === '.sql' || extension === '.sh') {
    const comment = extension === '.sql' ? /--.*$/ : /(^|\s)#.*$/;
    return source.text.split('\n').map((line, i) => [i + 1, line.replace(comment, '')]);
  }
  const file = ts.createSourceFile(source.file, source.text, ts.ScriptTarget.Latest, true);
  const pieces: [number, string][] = [];
  const visit = (node: ts.Node) => {
    if (ts.isIdentifier(node) || ts.isStringLiteralLike(node) || ts.isTemplateLiteralToken(node)) {
      pieces.push([file.getLineAndCharacterOfPosition(node.getStart()).line + 1, node.text]);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return pieces;
}

/**
 * Where `sources` name providers that `allowed(file)` does not let that file name. A file may
 * name the providers `allowed` returns for it (its own, or all: '*').
 */
export function handNamed(
  sources: readonly Source[],
  providers: readonly WebhookProvider[],
  allowed: (file: string) => readonly string[],
): Finding[] {
  const findings: Finding[] = [];
  for (const source of sources) {
    const mayName = allowed(source.file);
    if (mayName.includes('*')) continue;
    for (const [line, text] of piecesOf(source)) {
      for (const provider of providers) {
        if (mayName.includes(provider.name)) continue;
        if (marksOf(provider).some((mark) => mark.test(text))) {
          findings.push({ file: source.file, line, provider: provider.name, text: text.trim().slice(0, 80) });
        }
      }
    }
  }
  return findings;
}

/** Every file under `dir` (relative to `root`) whose name passes `keep`. */
export async function sourcesUnder(
  root: string,
  dir: string,
  keep: (file: string) => boolean,
): Promise<Source[]> {
  const entries = await readdir(path.join(root, dir), { recursive: true, withFileTypes: true });
  const files = entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)))
    .filter(keep)
    .sort();
  return Promise.all(
    files.map(async (file) => ({ file, text: await readFile(path.join(root, file), 'utf8') })),
  );
}
