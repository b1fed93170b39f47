/**
 * The Metaspace pre-tokenizer (SentencePiece's "▁" for spaces) with the semantics of Hugging Face's Rust
 * `tokenizers`: every " " becomes the replacement; the replacement is prepended to each piece of text between
 * added tokens (`always`), only to the one at the start of the input (`first`), or never; with `split` the
 * text is cut before each replacement character, which stays with the word after it.
 */
export type PrependScheme = "always" | "first" | "never";

export interface MetaspaceConfig {
  replacement: string;
  prependScheme: PrependScheme;
  split: boolean;
}

export function metaspace(cfg: MetaspaceConfig): (s: string, atStart: boolean, word: (w: string, atStart: boolean) => boolean) => boolean {
  const rep = cfg.replacement;
  return (s, atStart, word) => {
    if (s.length === 0) return true;
    let t = s.includes(" ") ? s.split(" ").join(rep) : s;
    if (!t.startsWith(rep) && (cfg.prependScheme === "always" || (cfg.prependScheme === "first" && atStart))) t = rep + t;
    if (!cfg.split) return word(t, atStart);
    let start = 0;
    for (let i = t.indexOf(rep, 1); i >= 0; i = t.indexOf(rep, i + rep.length)) {
      if (i > start && !word(t.slice(start, i), atStart && start === 0)) return false;
      start = i;
    }
    return start < t.length ? word(t.slice(start), atStart && start === 0) : true;
  };
}
