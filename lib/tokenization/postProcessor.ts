import { SbertError } from "../errors.js";

/** One element of a special-token template: a sequence (0 = A, 1 = B) or special-token ids, with a token type. */
export type TemplatePiece = { seq: 0 | 1; ids?: undefined; typeId: number } | { seq?: undefined; ids: readonly number[]; typeId: number };

/** How special tokens are put around one text or a pair, as the tokenizer.json post_processor says. */
export interface SpecialTokensTemplate {
  single: readonly TemplatePiece[];
  pair: readonly TemplatePiece[];
  /** number of special tokens added to a single text / a pair */
  addedSingle: number;
  addedPair: number;
}

const PLAIN: SpecialTokensTemplate = {
  single: [{ seq: 0, typeId: 0 }],
  pair: [
    { seq: 0, typeId: 0 },
    { seq: 1, typeId: 1 },
  ],
  addedSingle: 0,
  addedPair: 0,
};

function count(pieces: readonly TemplatePiece[]): number {
  let n = 0;
  for (const p of pieces) if (p.ids !== undefined) n += p.ids.length;
  return n;
}

function make(single: TemplatePiece[], pair: TemplatePiece[]): SpecialTokensTemplate {
  return { single, pair, addedSingle: count(single), addedPair: count(pair) };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** [token, id] as BertProcessing / RobertaProcessing store them. */
function tokenPair(v: unknown, field: string, fail: (msg: string) => never): number {
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== "string" || !Number.isInteger(v[1])) {
    fail(`post_processor.${field} must be [token, id]`);
  }
  return v[1] as number;
}

function parseTemplateProcessing(pp: Record<string, unknown>, fail: (msg: string) => never): SpecialTokensTemplate {
  const specials = isRecord(pp["special_tokens"]) ? pp["special_tokens"] : {};
  const parse = (items: unknown, which: string): TemplatePiece[] => {
    if (!Array.isArray(items)) fail(`post_processor.${which} must be a list`);
    return items.map((item: unknown, i: number): TemplatePiece => {
      if (isRecord(item) && isRecord(item["Sequence"])) {
        const s = item["Sequence"];
        if (s["id"] !== "A" && s["id"] !== "B") fail(`post_processor.${which}[${i}].Sequence.id must be "A" or "B"`);
        return { seq: s["id"] === "A" ? 0 : 1, typeId: Number(s["type_id"] ?? 0) };
      }
      if (isRecord(item) && isRecord(item["SpecialToken"])) {
        const s = item["SpecialToken"];
        const name = String(s["id"]);
        const def = specials[name];
        if (!isRecord(def) || !Array.isArray(def["ids"]) || !def["ids"].every((x) => Number.isInteger(x))) {
          fail(`post_processor.special_tokens has no ids for ${JSON.stringify(name)} used in ${which}`);
        }
        return { ids: def["ids"] as number[], typeId: Number(s["type_id"] ?? 0) };
      }
      fail(`post_processor.${which}[${i}] must be {"Sequence": ...} or {"SpecialToken": ...}`);
    });
  };
  return make(parse(pp["single"], "single"), parse(pp["pair"], "pair"));
}

/**
 * Reads the tokenizer.json post_processor into a template. Supported: TemplateProcessing, BertProcessing,
 * RobertaProcessing (all type ids 0, "</s></s>" between the texts), ByteLevel (adds nothing), none, and a
 * Sequence of these with at most one that adds special tokens. Anything else is an ERR_FORMAT rather than a
 * silently wrong set of special tokens.
 */
export function parsePostProcessor(pp: unknown, file: string, op: string): SpecialTokensTemplate {
  const fail = (msg: string): never => {
    throw new SbertError("ERR_FORMAT", `${file}: ${msg}`, { op });
  };
  if (pp === null || pp === undefined) return PLAIN;
  if (!isRecord(pp)) fail("post_processor must be an object or null");
  const p = pp as Record<string, unknown>;
  switch (p["type"]) {
    case "TemplateProcessing":
      return parseTemplateProcessing(p, fail);
    case "BertProcessing": {
      const cls = [tokenPair(p["cls"], "cls", fail)];
      const sep = [tokenPair(p["sep"], "sep", fail)];
      return make(
        [{ ids: cls, typeId: 0 }, { seq: 0, typeId: 0 }, { ids: sep, typeId: 0 }],
        [{ ids: cls, typeId: 0 }, { seq: 0, typeId: 0 }, { ids: sep, typeId: 0 }, { seq: 1, typeId: 1 }, { ids: sep, typeId: 1 }],
      );
    }
    case "RobertaProcessing": {
      const cls = [tokenPair(p["cls"], "cls", fail)];
      const sep = [tokenPair(p["sep"], "sep", fail)];
      return make(
        [{ ids: cls, typeId: 0 }, { seq: 0, typeId: 0 }, { ids: sep, typeId: 0 }],
        [{ ids: cls, typeId: 0 }, { seq: 0, typeId: 0 }, { ids: [...sep, ...sep], typeId: 0 }, { seq: 1, typeId: 0 }, { ids: sep, typeId: 0 }],
      );
    }
    case "ByteLevel":
      return PLAIN;
    case "Sequence": {
      const list = p["processors"];
      if (!Array.isArray(list)) fail("post_processor.processors must be a list");
      const adding = (list as unknown[]).filter((x) => !(isRecord(x) && x["type"] === "ByteLevel"));
      if (adding.length > 1) fail(`post_processor Sequence with ${adding.length} special-token processors is not supported`);
      return adding.length === 0 ? PLAIN : parsePostProcessor(adding[0], file, op);
    }
    default:
      return fail(`post_processor type ${JSON.stringify(p["type"])} is not supported`);
  }
}
