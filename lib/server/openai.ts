/**
 * The OpenAI embeddings wire format: request checks with messages that name the field, error bodies
 * `{error: {message, type, param, code}}`, and the float / base64 encodings of an embedding.
 */
import { endianness } from "node:os";

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** An error answered with `status` and an OpenAI-style body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type = status >= 500 ? "server_error" : "invalid_request_error",
    /** Response headers that go with the error (e.g. Retry-After). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }

  body(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export interface EmbeddingsRequest {
  input: unknown;
  model?: string | null;
  encoding_format?: "float" | "base64" | null;
  dimensions?: number | null;
  user?: string | null;
}

/** The JSON schema Fastify checks first; `checkInput` then says precisely what is wrong with `input`. */
export const embeddingsBodySchema = {
  type: "object",
  required: ["input"],
  properties: {
    input: { type: ["string", "array"] },
    model: { type: ["string", "null"] },
    encoding_format: { type: ["string", "null"], enum: ["float", "base64", null] },
    dimensions: { type: ["integer", "null"], minimum: 1 },
    user: { type: ["string", "null"] },
  },
} as const;

interface AjvError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

/** A schema failure as an ApiError naming the field. */
export function schemaError(errors: readonly AjvError[]): ApiError {
  const e = errors[0];
  if (!e) return new ApiError(400, "invalid request body", null, "invalid_value");
  const field = e.keyword === "required" ? String(e.params["missingProperty"]) : e.instancePath.replace(/^\//, "").replace(/\//g, ".");
  if (!field) return new ApiError(400, "the request body must be a JSON object", null, "invalid_value");
  switch (e.keyword) {
    case "required":
      return new ApiError(400, `'${field}' is required`, field, "missing_required_parameter");
    case "enum":
      return new ApiError(400, `'${field}' must be one of: ${(e.params["allowedValues"] as unknown[]).filter((v) => v !== null).join(", ")}`, field, "invalid_value");
    case "type": {
      const types = String(e.params["type"]).split(",").filter((t) => t !== "null");
      const what = field === "input" ? "a string or an array of strings" : types.map((t) => `${/^[aeiou]/.test(t) ? "an" : "a"} ${t}`).join(" or ");
      return new ApiError(400, `'${field}' must be ${what}`, field, "invalid_type");
    }
    case "minimum":
      return new ApiError(400, `'${field}' must be >= ${String(e.params["limit"])}`, field, "invalid_value");
    default:
      return new ApiError(400, `'${field}' ${e.message ?? "is invalid"}`, field, "invalid_value");
  }
}

/**
 * The texts of `input`: a non-empty string or a non-empty array of non-empty strings, at most `maxInputs`, none
 * longer than `maxChars` UTF-16 code units (checked before anything is tokenized).
 */
export function checkInput(input: unknown, maxInputs: number, maxChars = Infinity): string[] {
  const checkLength = (x: string, field: string): void => {
    if (x.length > maxChars) throw new ApiError(400, `'${field}' has ${x.length} characters; at most ${maxChars} are allowed per text`, field, "input_too_long");
  };
  if (typeof input === "string") {
    if (input === "") throw new ApiError(400, "'input' must not be an empty string", "input", "invalid_value");
    checkLength(input, "input");
    return [input];
  }
  if (!Array.isArray(input)) throw new ApiError(400, "'input' must be a string or an array of strings", "input", "invalid_type");
  if (input.length === 0) throw new ApiError(400, "'input' must not be an empty array", "input", "invalid_value");
  if (input.length > maxInputs) {
    throw new ApiError(400, `'input' has ${input.length} entries; at most ${maxInputs} are allowed per request`, "input", "too_many_inputs");
  }
  input.forEach((x, i) => {
    if (typeof x === "string") {
      if (x === "") throw new ApiError(400, `'input[${i}]' must not be an empty string`, `input[${i}]`, "invalid_value");
      checkLength(x, `input[${i}]`);
      return;
    }
    if (typeof x === "number" || (Array.isArray(x) && x.every((y) => typeof y === "number"))) {
      throw new ApiError(400, `'input[${i}]' is a token array: this server takes text only`, `input[${i}]`, "invalid_type");
    }
    throw new ApiError(400, `'input[${i}]' must be a string, got ${x === null ? "null" : Array.isArray(x) ? "an array" : typeof x}`, `input[${i}]`, "invalid_type");
  });
  return input as string[];
}

const LITTLE_ENDIAN = endianness() === "LE";

/** Little-endian float32 bytes in base64, as OpenAI's `encoding_format: "base64"`. */
export function float32Base64(values: Float32Array): string {
  if (LITTLE_ENDIAN) return Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString("base64");
  const out = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) out.writeFloatLE(values[i]!, i * 4);
  return out.toString("base64");
}

/** `v` truncated to `dims` values, rescaled to unit length when `normalize`. */
export function truncate(v: Float32Array, dims: number | undefined, normalize: boolean): Float32Array {
  if (dims === undefined || dims >= v.length) return v;
  const out = v.slice(0, dims);
  return normalize ? unitLength(out, out) : out;
}

/** `v` scaled to unit length, into `out` (a new array unless given). */
export function unitLength(v: Float32Array, out = new Float32Array(v.length)): Float32Array {
  let sum = 0;
  for (const x of v) sum += x * x;
  // As torch's F.normalize: a zero vector stays zero.
  const scale = 1 / Math.max(Math.sqrt(sum), 1e-12);
  for (let i = 0; i < v.length; i++) out[i] = v[i]! * scale;
  return out;
}
