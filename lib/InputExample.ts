/** One training example: its texts (one per column) and an optional label (`InputExample`). */
export interface InputExampleInit {
  texts: string[];
  /** A score or class (number), or a target embedding (MSELoss). Default 0. */
  label?: number | number[] | Float32Array;
  guid?: string;
}

export class InputExample {
  readonly texts: string[];
  readonly label: number | number[] | Float32Array;
  readonly guid: string;

  constructor(init: InputExampleInit) {
    if (typeof init !== "object" || init === null) throw new TypeError("InputExample: expected {texts, label?, guid?}");
    if (!Array.isArray(init.texts)) throw new TypeError("InputExample: texts must be an array of strings");
    init.texts.forEach((t, i) => {
      if (typeof t !== "string") throw new TypeError(`InputExample: texts[${i}] must be a string, got ${t === null ? "null" : typeof t}`);
    });
    this.texts = [...init.texts];
    this.label = init.label ?? 0;
    this.guid = init.guid ?? "";
  }

  toString(): string {
    return `<InputExample> label: ${Array.isArray(this.label) || this.label instanceof Float32Array ? `[${this.label.length} values]` : this.label}, texts: ${this.texts.join("; ")}`;
  }
}
