/**
 * Writing evaluator results the way sbert's Python writes them, so the files compare equal byte for byte.
 */
import { appendFile, mkdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * A CSV cell: a number is written as Python writes a float, `{ int }` as a Python int, `{ float32 }` as numpy
 * writes a float32, a string as is.
 */
export type CsvCell = number | string | { int: number } | { float32: number };

/** The shortest round-trip digits of a finite non-zero `x`, laid out as Python does: `1.5e-05` or `0.00015`. */
function pythonLayout(x: number, scientific: boolean): string {
  const sign = x < 0 ? "-" : "";
  // toExponential() without digits gives the shortest digits that round-trip, like Python's repr.
  const [mantissa, expText] = Math.abs(x).toExponential().split("e") as [string, string];
  const exp = Number(expText);
  const digits = mantissa.replace(".", "");
  if (scientific) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
  const frac = digits.slice(exp + 1);
  return `${sign}${intPart}.${frac || "0"}`;
}

/** `str(x)` of a Python float (or numpy float64): shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
export function formatPythonFloat(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const exp = Number(Math.abs(x).toExponential().split("e")[1]);
  return pythonLayout(x, exp < -4 || exp >= 16);
}

/**
 * `str(x)` of a numpy float32 (numpy 2): the fewest digits that read back as the same float32, in exponent form
 * when the float32 is below 1e-4 or from 1e6 (numpy's bounds for float32). `x` is rounded to float32 first.
 */
export function formatNumpyFloat32(x: number): string {
  const f = Math.fround(x);
  if (!Number.isFinite(f) || f === 0) return formatPythonFloat(f);
  let shortest = Number(f.toPrecision(9));
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(f.toPrecision(digits));
    if (Math.fround(candidate) === f) {
      shortest = candidate;
      break;
    }
  }
  const abs = Math.abs(f);
  return pythonLayout(shortest, abs < 1e-4 || abs >= 1e6);
}

function formatCell(cell: CsvCell): string {
  let text: string;
  if (typeof cell === "number") text = formatPythonFloat(cell);
  else if (typeof cell === "string") text = cell;
  else if ("float32" in cell) text = formatNumpyFloat32(cell.float32);
  else text = String(cell.int);
  // csv.QUOTE_MINIMAL
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Appends one row to `outputPath/fileName`, writing the header first when the file does not exist yet.
 * `lineEnd` is "\r\n" for files written with Python's csv.writer, "\n" where sbert joins with commas itself.
 */
export async function appendCsvRow(
  outputPath: string,
  fileName: string,
  headers: readonly string[],
  row: readonly CsvCell[],
  lineEnd: "\r\n" | "\n",
): Promise<void> {
  const path = join(outputPath, fileName);
  const line = row.map(formatCell).join(",") + lineEnd;
  await mkdir(outputPath, { recursive: true });
  if (await isFile(path)) await appendFile(path, line, "utf8");
  else await writeFile(path, headers.map((h) => formatCell(h)).join(",") + lineEnd + line, "utf8");
}

/** `json.dumps(value)` with Python's defaults: ", " and ": " separators, ASCII-only output, floats as repr. */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") {
    if (Number.isNaN(value)) return "NaN";
    if (!Number.isFinite(value)) return value > 0 ? "Infinity" : "-Infinity";
    return formatPythonFloat(value);
  }
  if (typeof value === "object" && value !== null && "int" in value && Object.keys(value).length === 1) {
    return String((value as { int: number }).int);
  }
  if (typeof value === "string") {
    return (
      '"' +
      value.replace(/[^\x20-\x7e]|["\\]/g, (ch) => {
        switch (ch) {
          case '"':
            return '\\"';
          case "\\":
            return "\\\\";
          case "\n":
            return "\\n";
          case "\r":
            return "\\r";
          case "\t":
            return "\\t";
          case "\b":
            return "\\b";
          case "\f":
            return "\\f";
          default:
            return `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`;
        }
      }) +
      '"'
    );
  }
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(", ")}]`;
  const entries = Object.entries(value as Record<string, unknown>);
  return `{${entries.map(([k, v]) => `${pythonJsonDumps(k)}: ${pythonJsonDumps(v)}`).join(", ")}}`;
}
