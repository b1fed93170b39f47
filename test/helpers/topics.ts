// A learnable similarity task made up on the spot: sentences about six topics on a circle. Pairs are scored by
// how close their topics are (1, 2/3, 1/3, 0). The two sides of a pair draw from disjoint halves of their topic's
// words, so an untrained model (which mostly sees shared words) cannot score them: it has to learn the topics.
import { InputExample, SentenceTransformer, Tokenizer, models } from "../../lib/index.js";
import { seededRandom } from "../../lib/internal/random.js";

const TOPICS = 6;
const WORDS_PER_HALF = 5;
const FILLERS = ["il", "la", "un", "una", "di", "che", "e", "con", "per", "nel"];

function topicWords(t: number, half: 0 | 1): string[] {
  return Array.from({ length: WORDS_PER_HALF }, (_, i) => `t${t}${half ? "b" : "a"}${i}`);
}

export const TOPIC_VOCAB = [
  "[PAD]",
  "[UNK]",
  "[CLS]",
  "[SEP]",
  "[MASK]",
  ...FILLERS,
  ...Array.from({ length: TOPICS }, (_, t) => [...topicWords(t, 0), ...topicWords(t, 1)]).flat(),
];

function sentence(random: () => number, t: number, half: 0 | 1): string {
  const words = topicWords(t, half);
  const out: string[] = [];
  for (let i = 0; i < 4; i++) out.push(words[Math.floor(random() * words.length)]!);
  for (let i = 0; i < 2; i++) out.splice(Math.floor(random() * out.length), 0, FILLERS[Math.floor(random() * FILLERS.length)]!);
  return out.join(" ");
}

export interface TopicPairs {
  s1: string[];
  s2: string[];
  scores: number[];
}

/** `n` scored pairs; the same seed gives the same pairs. */
export function topicPairs(n: number, seed: number): TopicPairs {
  const random = seededRandom(seed);
  const out: TopicPairs = { s1: [], s2: [], scores: [] };
  for (let i = 0; i < n; i++) {
    const a = Math.floor(random() * TOPICS);
    const offset = Math.floor(random() * 4); // 0..3 steps around the circle, evenly
    const b = (a + (random() < 0.5 ? offset : TOPICS - offset)) % TOPICS;
    out.s1.push(sentence(random, a, 0));
    out.s2.push(sentence(random, b, 1));
    out.scores.push(1 - offset / 3);
  }
  return out;
}

export function topicExamples(pairs: TopicPairs): InputExample[] {
  return pairs.s1.map((s, i) => new InputExample({ texts: [s, pairs.s2[i]!], label: pairs.scores[i]! }));
}

/** A small BERT with fresh weights over the topic vocabulary, mean pooling. */
export async function topicModel(options: { seed?: number; dropout?: number } = {}): Promise<SentenceTransformer> {
  const tokenizer = Tokenizer.fromVocab(TOPIC_VOCAB, { doLowerCase: true });
  const dropout = options.dropout ?? 0.1;
  const transformer = await models.Transformer.fromConfig(
    {
      vocab_size: TOPIC_VOCAB.length,
      hidden_size: 32,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      intermediate_size: 64,
      max_position_embeddings: 32,
      hidden_dropout_prob: dropout,
      attention_probs_dropout_prob: dropout,
    },
    tokenizer,
    { seed: options.seed ?? 1 },
  );
  return new SentenceTransformer({ modules: [transformer, new models.Pooling(32)] });
}
