/** The activations a cross-encoder puts on its logits (predict, rank and the losses' activationFn), by short name and torch class path. */
import { SbertError } from "../errors.js";
import { DENSE_ACTIVATIONS } from "../models/Dense.js";

export const CROSS_ENCODER_ACTIVATIONS = ["sigmoid", "identity", "tanh", "relu", "silu"] as const;
export type CrossEncoderActivation = (typeof CROSS_ENCODER_ACTIVATIONS)[number];

export const ACTIVATION_FNS: Record<CrossEncoderActivation, (x: number) => number> = {
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  identity: (x) => x,
  tanh: Math.tanh,
  relu: (x) => Math.max(0, x),
  silu: (x) => x / (1 + Math.exp(-x)),
};

/** The torch class path sentence-transformers writes for each activation (torch.nn.Sigmoid → "torch.nn.modules.activation.Sigmoid"). */
export const TORCH_PATHS = Object.fromEntries(Object.entries(DENSE_ACTIVATIONS).map(([path, short]) => [short, path])) as Record<CrossEncoderActivation, string>;

/**
 * A short name or torch class path as the activation it names. Anything else is a RangeError (an argument) or,
 * with `code`, an SbertError of that code (a file's field), naming `where`.
 */
export function resolveActivation(given: string, where: string, code: "ERR_CONFIG" | null = null, op?: string): CrossEncoderActivation {
  if (typeof given !== "string") throw new TypeError(`${where}: activationFn must be a string (a name or a torch class path), got ${typeof given}`);
  const short = (CROSS_ENCODER_ACTIVATIONS as readonly string[]).includes(given) ? given : DENSE_ACTIVATIONS[given];
  if (short !== undefined && (CROSS_ENCODER_ACTIVATIONS as readonly string[]).includes(short)) return short as CrossEncoderActivation;
  const message = `${where}: activation function ${JSON.stringify(given)} is not one of ${CROSS_ENCODER_ACTIVATIONS.map((a) => `${a} (${TORCH_PATHS[a]})`).join(", ")}`;
  if (code === null) throw new RangeError(message);
  throw new SbertError(code, message, { op });
}
