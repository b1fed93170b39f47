/**
 * Every failure that comes from the native addon, a model folder or a file format is an SbertError:
 * `code` says what kind of failure it is, `op` which operation failed (e.g. `Transformer.load`).
 */
export type SbertErrorCode =
  | "ERR_NATIVE" // libtorch or the addon raised an error
  | "ERR_FILE_NOT_FOUND"
  | "ERR_FORMAT" // a file exists but its content is not what the format says
  | "ERR_WEIGHTS" // weights do not fit the model (missing, unknown or mis-shaped keys)
  | "ERR_CONFIG" // a config file has a missing or invalid field
  | "ERR_DEVICE"
  | "ERR_DISPOSED"
  | "ERR_INPUT"
  | "ERR_WORKER"; // a worker process of a multi-process pool ended or could not start

export class SbertError extends Error {
  readonly code: SbertErrorCode;
  readonly op: string | undefined;

  constructor(code: SbertErrorCode, message: string, options: { op?: string; cause?: unknown } = {}) {
    super(options.op ? `${options.op}: ${message}` : message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SbertError";
    this.code = code;
    this.op = options.op;
  }
}
