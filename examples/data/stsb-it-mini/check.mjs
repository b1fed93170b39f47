#!/usr/bin/env node
// Validates the stsb-it-mini dataset (train.jsonl / test.jsonl) and prints a summary.
// Plain Node (>=18), no dependencies. Usage: node examples/data/stsb-it-mini/check.mjs [dir]
// Exits with code 1 if any error is found; warnings do not change the exit code.
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = process.argv[2] ?? dirname(fileURLToPath(import.meta.url));
const SPLITS = { train: { expected: 480 }, test: { expected: 120 } };
const COLUMNS = ['sentence1', 'sentence2', 'similarity_score'];
const MAX_WORDS = 30; // hard limit
const SOFT_MIN_WORDS = 5; // guideline 5-20 words (warning only)
const SOFT_MAX_WORDS = 20;
const SIZE_TOLERANCE = 0.1; // split sizes may differ from `expected` by 10%
const VOCAB_RANGE = [1500, 2500];

const errors = [];
const warnings = [];
const err = (m) => errors.push(m);
const warn = (m) => warnings.push(m);

const words = (s) => s.trim().split(/\s+/).filter(Boolean);
const tokens = (s) => s.toLowerCase().normalize('NFC').match(/\p{L}+/gu) ?? [];
const norm = (s) => s.normalize('NFC').trim().replace(/\s+/g, ' ');
const pairKey = (a, b) => [norm(a), norm(b)].sort().join('\u0000');

const data = {};
for (const split of Object.keys(SPLITS)) {
  const file = join(dir, `${split}.jsonl`);
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    err(`${split}: cannot read ${file}: ${e.message}`);
    data[split] = [];
    continue;
  }
  if (!text.endsWith('\n')) warn(`${split}: file does not end with a newline`);
  const rows = [];
  text.split('\n').forEach((line, i) => {
    const where = `${split}.jsonl:${i + 1}`;
    if (line === '') return; // trailing newline
    let obj;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      err(`${where}: invalid JSON (${e.message})`);
      return;
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      err(`${where}: not a JSON object`);
      return;
    }
    const keys = Object.keys(obj);
    if (keys.length !== COLUMNS.length || !COLUMNS.every((c) => keys.includes(c))) {
      err(`${where}: columns must be exactly ${COLUMNS.join(', ')} (got ${keys.join(', ')})`);
      return;
    }
    let ok = true;
    for (const c of ['sentence1', 'sentence2']) {
      const s = obj[c];
      if (typeof s !== 'string') { err(`${where}: ${c} is not a string`); ok = false; continue; }
      if (s.trim() === '') { err(`${where}: ${c} is empty`); ok = false; continue; }
      if (s !== s.trim() || /\s{2,}/.test(s)) warn(`${where}: ${c} has extra whitespace`);
      const n = words(s).length;
      if (n > MAX_WORDS) { err(`${where}: ${c} has ${n} words (max ${MAX_WORDS})`); ok = false; }
      else if (n < SOFT_MIN_WORDS || n > SOFT_MAX_WORDS) warn(`${where}: ${c} has ${n} words (guideline ${SOFT_MIN_WORDS}-${SOFT_MAX_WORDS})`);
    }
    const sc = obj.similarity_score;
    if (typeof sc !== 'number' || !Number.isFinite(sc)) { err(`${where}: similarity_score is not a finite number`); ok = false; }
    else {
      if (sc < 0 || sc > 5) { err(`${where}: similarity_score ${sc} outside 0.0-5.0`); ok = false; }
      if (Math.abs(sc * 10 - Math.round(sc * 10)) > 1e-9) { err(`${where}: similarity_score ${sc} has more than one decimal`); ok = false; }
    }
    if (ok && norm(obj.sentence1) === norm(obj.sentence2)) err(`${where}: sentence1 equals sentence2`);
    if (ok) rows.push({ ...obj, where });
  });
  data[split] = rows;
}

// Duplicate pairs (order-insensitive), within and across splits.
const seenPairs = new Map();
for (const [split, rows] of Object.entries(data)) {
  for (const r of rows) {
    const k = pairKey(r.sentence1, r.sentence2);
    if (seenPairs.has(k)) err(`duplicate pair: ${r.where} repeats ${seenPairs.get(k)}`);
    else seenPairs.set(k, r.where);
  }
}

// Sentence overlap between train and test.
const sentSet = (rows) => new Set(rows.flatMap((r) => [norm(r.sentence1), norm(r.sentence2)]));
const trainSents = sentSet(data.train);
const testSents = sentSet(data.test);
const overlap = [...testSents].filter((s) => trainSents.has(s));
for (const s of overlap.slice(0, 10)) err(`test sentence also in train: "${s}"`);
if (overlap.length > 10) err(`... ${overlap.length - 10} more test sentences also in train`);

// Split sizes.
for (const [split, { expected }] of Object.entries(SPLITS)) {
  const n = data[split].length;
  if (Math.abs(n - expected) > expected * SIZE_TOLERANCE) err(`${split}: ${n} pairs, expected about ${expected}`);
}

// Statistics.
const hist = (rows) => {
  const h = [0, 0, 0, 0, 0];
  for (const r of rows) h[Math.min(4, Math.floor(r.similarity_score))]++;
  return h;
};
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / (xs.length || 1);
const allRows = [...data.train, ...data.test];
const allSents = new Set([...trainSents, ...testSents]);
const vocab = (sents) => new Set([...sents].flatMap(tokens));
const vAll = vocab(allSents);
const vTrain = vocab(trainSents);
const vTest = vocab(testSents);
const testOov = [...vTest].filter((w) => !vTrain.has(w));
const testTok = [...testSents].flatMap(tokens);
const testTokOov = testTok.filter((w) => !vTrain.has(w)).length;
const lens = [...allSents].map((s) => words(s).length);

if (vAll.size < VOCAB_RANGE[0] || vAll.size > VOCAB_RANGE[1]) warn(`vocabulary size ${vAll.size} outside ${VOCAB_RANGE.join('-')}`);
const hAll = hist(allRows);
for (let b = 0; b < 5; b++) {
  const share = hAll[b] / (allRows.length || 1);
  if (share < 0.1 || share > 0.3) warn(`score bin [${b},${b + 1}${b === 4 ? ']' : ')'} holds ${(share * 100).toFixed(1)}% of pairs (aim ~20%)`);
}

const bar = (n, total) => '#'.repeat(Math.round((n / (total || 1)) * 60));
const fmtHist = (h, total) => h.map((n, b) => `    [${b},${b + 1}${b === 4 ? ']' : ')'} ${String(n).padStart(4)}  ${bar(n, total)}`).join('\n');

console.log(`stsb-it-mini check (${dir})`);
for (const split of Object.keys(SPLITS)) {
  const rows = data[split];
  const scores = rows.map((r) => r.similarity_score);
  console.log(`  ${split}: ${rows.length} pairs, ${sentSet(rows).size} distinct sentences, mean score ${mean(scores).toFixed(2)}`);
  console.log(fmtHist(hist(rows), rows.length));
}
console.log(`  all: ${allRows.length} pairs, ${allSents.size} distinct sentences`);
console.log(`  unrelated pairs (score <= 0.5): ${allRows.filter((r) => r.similarity_score <= 0.5).length}; paraphrases (score >= 4.5): ${allRows.filter((r) => r.similarity_score >= 4.5).length}`);
console.log(`  sentence length (words): min ${Math.min(...lens)}, mean ${mean(lens).toFixed(1)}, max ${Math.max(...lens)}`);
console.log(`  vocabulary (lower-cased letter tokens): ${vAll.size} overall, ${vTrain.size} train, ${vTest.size} test`);
console.log(`  test words unseen in train: ${testOov.length} types, ${((testTokOov / (testTok.length || 1)) * 100).toFixed(1)}% of test tokens`);
console.log(`  test sentences also in train: ${overlap.length}; duplicate pairs: ${[...errors].filter((e) => e.startsWith('duplicate pair')).length}`);
for (const w of warnings.slice(0, 20)) console.log(`  WARNING ${w}`);
if (warnings.length > 20) console.log(`  ... ${warnings.length - 20} more warnings`);
for (const e of errors.slice(0, 50)) console.log(`  ERROR ${e}`);
if (errors.length > 50) console.log(`  ... ${errors.length - 50} more errors`);
console.log(errors.length ? `FAILED: ${errors.length} error(s), ${warnings.length} warning(s)` : `OK: no errors, ${warnings.length} warning(s)`);
process.exit(errors.length ? 1 : 0);
