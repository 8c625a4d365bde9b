// The README's configuration reference is generated from the schema; it must not be stale.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { BEGIN, END, configReference } from '../../src/config/docs.js';
import { configJsonSchemaOf } from '../../src/config/load.js';

t.test('README configuration reference matches the schema (run `npm run docs:config`)', async (t) => {
  const readme = readFileSync('README.md', 'utf8');
  const block = readme.slice(readme.indexOf(BEGIN) + BEGIN.length, readme.indexOf(END)).trim();
  t.equal(block, configReference().trim());
});

t.test('every option has a description', async (t) => {
  const missing: string[] = [];
  const walk = (s: any, path: string): void => {
    if (!s || typeof s !== 'object') return;
    for (const v of s.anyOf ?? s.oneOf ?? []) walk(v, path);
    for (const [k, v] of Object.entries<any>(s.properties ?? {})) {
      if (!v.description && !(v.anyOf ?? v.oneOf ?? []).some((x: any) => x.description)) missing.push(`${path}${k}`);
      walk(v, `${path}${k}.`);
    }
    if (s.items) walk(s.items, `${path}[].`);
    if (typeof s.additionalProperties === 'object') walk(s.additionalProperties, `${path}<name>.`);
  };
  walk(configJsonSchemaOf(), '');
  t.same(missing, [], 'options without a description');
});
