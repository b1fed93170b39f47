/**
 * SentencePiece model files (`sentencepiece.bpe.model`, a serialized ModelProto) read with a minimal protobuf
 * reader, and the tokenizer.json transformers builds from one for XLM-RoBERTa (XLMRobertaConverter /
 * XLMRobertaTokenizer): fairseq's <s> <pad> </s> <unk> first, the model's pieces from the fourth on (their ids
 * one higher than in the model), <mask> last; the model's precompiled normalization; whitespace splitting and
 * Metaspace; <s> A </s> and <s> A </s> </s> B </s>.
 */

/** SentencePiece.Type */
export const PIECE_NORMAL = 1;
export const PIECE_UNKNOWN = 2;
export const PIECE_CONTROL = 3;
export const PIECE_USER_DEFINED = 4;

export interface SentencePieceModel {
  pieces: { piece: string; score: number; type: number }[];
  /** TrainerSpec.model_type: 1 unigram, 2 BPE, 3 word, 4 char */
  modelType: number;
  byteFallback: boolean;
  precompiledCharsmap: Uint8Array;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Protobuf wire format over a byte range: fields as (number, wire type, value or byte range). */
class Reader {
  pos: number;
  constructor(
    private readonly b: Uint8Array,
    start: number,
    private readonly end: number,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error("truncated varint");
      const byte = this.b[this.pos++]!;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
    throw new Error("varint longer than 10 bytes");
  }

  /** The next field's number, wire type and, for length-delimited fields, its [start, end). */
  field(): { num: number; wire: number; start: number; end: number; value: number } {
    const key = this.varint();
    const num = Math.floor(key / 8);
    const wire = key % 8;
    const at = this.pos;
    switch (wire) {
      case 0:
        return { num, wire, start: at, end: at, value: this.varint() };
      case 1:
        this.skip(8);
        return { num, wire, start: at, end: at + 8, value: 0 };
      case 2: {
        const len = this.varint();
        const start = this.pos;
        this.skip(len);
        return { num, wire, start, end: start + len, value: len };
      }
      case 5:
        this.skip(4);
        return { num, wire, start: at, end: at + 4, value: 0 };
      default:
        throw new Error(`unsupported protobuf wire type ${wire} at byte ${at}`);
    }
  }

  private skip(n: number): void {
    if (this.pos + n > this.end) throw new Error("field runs past the end of its message");
    this.pos += n;
  }
}

/** @throws Error when `bytes` is not a SentencePiece ModelProto */
export function readSentencePieceModel(bytes: Uint8Array): SentencePieceModel {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const model: SentencePieceModel = { pieces: [], modelType: 1, byteFallback: false, precompiledCharsmap: new Uint8Array(0) };
  const top = new Reader(bytes, 0, bytes.length);
  while (!top.done) {
    const f = top.field();
    if (f.num === 1 && f.wire === 2) {
      const p = { piece: "", score: 0, type: PIECE_NORMAL };
      const r = new Reader(bytes, f.start, f.end);
      while (!r.done) {
        const g = r.field();
        if (g.num === 1 && g.wire === 2) p.piece = utf8.decode(bytes.subarray(g.start, g.end));
        else if (g.num === 2 && g.wire === 5) p.score = view.getFloat32(g.start, true);
        else if (g.num === 3 && g.wire === 0) p.type = g.value;
      }
      model.pieces.push(p);
    } else if (f.num === 2 && f.wire === 2) {
      const r = new Reader(bytes, f.start, f.end);
      while (!r.done) {
        const g = r.field();
        if (g.num === 3 && g.wire === 0) model.modelType = g.value;
        else if (g.num === 35 && g.wire === 0) model.byteFallback = g.value !== 0;
      }
    } else if (f.num === 3 && f.wire === 2) {
      const r = new Reader(bytes, f.start, f.end);
      while (!r.done) {
        const g = r.field();
        if (g.num === 2 && g.wire === 2) model.precompiledCharsmap = bytes.slice(g.start, g.end);
      }
    }
  }
  if (model.pieces.length === 0) throw new Error("no pieces: not a SentencePiece model");
  return model;
}

export interface XlmRobertaSpecials {
  bos: string;
  pad: string;
  eos: string;
  unk: string;
  mask: string;
  /** tokenizer_config.json add_prefix_space (default true) */
  addPrefixSpace: boolean;
}

/** The tokenizer.json that transformers' XLMRobertaTokenizer makes of a SentencePiece model. */
export function xlmRobertaTokenizerJson(m: SentencePieceModel, s: XlmRobertaSpecials): Record<string, unknown> {
  const vocab: [string, number][] = [
    [s.bos, 0],
    [s.pad, 0],
    [s.eos, 0],
    [s.unk, 0],
    ...m.pieces.slice(3).map((p): [string, number] => [p.piece, p.score]),
    [s.mask, 0],
  ];
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const added = [special(0, s.bos), special(1, s.pad), special(2, s.eos), special(3, s.unk), special(vocab.length - 1, s.mask)];
  // The model's control and user-defined pieces become added tokens too (with the vocabulary's id for them).
  const idOf = new Map<string, number>();
  vocab.forEach(([t], i) => idOf.set(t, i));
  for (const p of m.pieces) {
    if ((p.type === PIECE_CONTROL || p.type === PIECE_USER_DEFINED) && !added.some((a) => a.content === p.piece) && idOf.has(p.piece)) {
      added.push({ ...special(idOf.get(p.piece)!, p.piece), special: p.type === PIECE_CONTROL });
    }
  }
  added.sort((a, b) => a.id - b.id);
  const scheme = s.addPrefixSpace ? "always" : "never";
  const charsmap = m.precompiledCharsmap.length > 0 ? Buffer.from(m.precompiledCharsmap).toString("base64") : null;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: charsmap === null ? null : { type: "Precompiled", precompiled_charsmap: charsmap },
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [{ type: "WhitespaceSplit" }, { type: "Metaspace", replacement: "\u2581", prepend_scheme: scheme, split: true }],
    },
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: s.bos, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: s.eos, type_id: 0 } }],
      pair: [
        { SpecialToken: { id: s.bos, type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: s.eos, type_id: 0 } },
        { SpecialToken: { id: s.eos, type_id: 0 } },
        { Sequence: { id: "B", type_id: 0 } },
        { SpecialToken: { id: s.eos, type_id: 0 } },
      ],
      special_tokens: {
        [s.bos]: { id: s.bos, ids: [0], tokens: [s.bos] },
        [s.eos]: { id: s.eos, ids: [2], tokens: [s.eos] },
      },
    },
    decoder: { type: "Metaspace", replacement: "\u2581", prepend_scheme: scheme, split: true },
    model: { type: "Unigram", unk_id: 3, vocab, byte_fallback: false },
  };
}
