/** A tokenizer.json component the own pipeline does not implement; `field` is its JSON path. */
export class UnsupportedComponent extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}
