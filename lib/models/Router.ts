import { mkdir } from "node:fs/promises";
import { join } from "node:path";

import type { NativeModule, NativeTokenBatch } from "../../types/native.js";
import { SbertError } from "../errors.js";
import { weightsForNative } from "../io/checkpoint.js";
import { readJsonObject, writeJson } from "../io/files.js";
import { callNative, callNativeSync } from "../native.js";
import type { TextInput, Tokenizer } from "../tokenization/Tokenizer.js";
import { MODULE_LOADERS, moduleClassName } from "./loaders.js";
import { isInputModule, LEGACY_TYPE_PREFIX, type InputModule, type SentenceModule } from "./Module.js";
import type { WhitespaceTokenizer } from "./tokenizer/WhitespaceTokenizer.js";

/** A modality: "text", or several together (sbert-node embeds text only, so only "text" routes are taken). */
export type Modality = string | string[];

/** One entry of route_mappings: batches of this task and modality (null: any) take `route`. */
export interface RouteMapping {
  task: string | null;
  modality: Modality | null;
  route: string;
}

export interface RouterOptions {
  /** Route name → the modules a batch on that route runs through, the first one tokenizing. */
  subModules: Record<string, SentenceModule[]>;
  /** The route of a batch whose task picks none. Default: the first route when allowEmptyKey, else none. */
  defaultRoute?: string | null;
  /** Let the first route be the default when defaultRoute is not given. Default true. */
  allowEmptyKey?: boolean;
  routeMappings?: RouteMapping[];
}

/** Options of the modules' per-batch calls: the task a batch is for ("query", "document", ...). */
export interface TaskOptions {
  task?: string;
}

const CONFIG_FILE = "router_config.json";
const OLD_CONFIG_FILE = "config.json";
const OP_LOAD = "Router.load";
/** sbert-node's inputs are texts, as sentence-transformers infers for a batch of strings. */
const TEXT: Modality = "text";

// A tuple of modalities never equals a single one, as in Python (("text",) is not "text").
const modalityKey = (m: Modality | null): string | null => (m === null ? null : Array.isArray(m) ? `(${[...m].sort().join("\u0000")})` : m);

function pyStr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  const body = s.replace(/\\/g, "\\\\").replace(quote === "'" ? /'/g : /"/g, `\\${quote}`).replace(/\n/g, "\\n").replace(/\t/g, "\\t");
  return `${quote}${body}${quote}`;
}

/** Python's str() of a (task, modality) tuple, the route_mappings keys sentence-transformers writes. */
function pyKey(task: string | null, modality: Modality | null): string {
  const item = (v: string | null) => (v === null ? "None" : pyStr(v));
  const mod = modality === null ? "None" : Array.isArray(modality) ? `(${[...modality].sort().map(item).join(", ")}${modality.length === 1 ? "," : ""})` : item(modality);
  return `(${item(task)}, ${mod})`;
}

type PyValue = string | null | PyValue[];

/** Reads the Python literals route_mappings keys are made of: None, quoted strings and tuples of them. */
function parsePyLiteral(text: string): PyValue {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const value = (): PyValue => {
    ws();
    if (text.startsWith("None", i)) {
      i += 4;
      return null;
    }
    const c = text[i];
    if (c === "'" || c === '"') {
      let out = "";
      i++;
      while (i < text.length && text[i] !== c) {
        if (text[i] === "\\" && i + 1 < text.length) {
          const e = text[++i]!;
          out += e === "n" ? "\n" : e === "t" ? "\t" : e;
        } else out += text[i];
        i++;
      }
      if (text[i] !== c) throw new Error("an unterminated string");
      i++;
      return out;
    }
    if (c === "(") {
      i++;
      const items: PyValue[] = [];
      ws();
      while (text[i] !== ")") {
        items.push(value());
        ws();
        if (text[i] === ",") i++;
        else if (text[i] !== ")") throw new Error(`',' or ')' expected at ${i}`);
        ws();
      }
      i++;
      return items;
    }
    throw new Error(`None, a string or a tuple expected at ${i}`);
  };
  const v = value();
  ws();
  if (i !== text.length) throw new Error(`unexpected ${JSON.stringify(text.slice(i))}`);
  return v;
}

/**
 * Sends each batch through one of several module lists by its task ("query", "document", ...), as
 * sentence-transformers' `Router` (asymmetric models: a light query encoder beside a document encoder). Route
 * resolution follows Python's order: route_mappings on (task, modality), (task, any), (any, modality), (any, any),
 * then a route named as the task, then one named as the modality, then the default route. Each route's first module
 * tokenizes; `SentenceTransformer.encodeQuery` / `encodeDocument` pick the "query" / "document" tasks, and the
 * trainer's `routerMapping` gives each dataset column its task.
 */
export class Router implements InputModule {
  readonly moduleType = `${LEGACY_TYPE_PREFIX}Router`;
  readonly className = "Router";
  readonly saveInRoot = true;
  readonly subModules: Readonly<Record<string, readonly SentenceModule[]>>;
  readonly defaultRoute: string | null;
  readonly allowEmptyKey: boolean;
  readonly routeMappings: readonly RouteMapping[];
  readonly native: NativeModule;

  constructor(options: RouterOptions) {
    if (typeof options !== "object" || options === null) throw new TypeError("Router: options must be an object");
    const { subModules } = options;
    if (typeof subModules !== "object" || subModules === null || Array.isArray(subModules) || Object.keys(subModules).length === 0) {
      throw new TypeError("Router: subModules must map at least one route name to a list of modules");
    }
    const routes: Record<string, SentenceModule[]> = {};
    for (const [name, modules] of Object.entries(subModules)) {
      if (name === "" || name.includes(".")) throw new RangeError(`Router: route name ${JSON.stringify(name)} must be non-empty and without '.'`);
      if (!Array.isArray(modules) || modules.length === 0) throw new TypeError(`Router: subModules.${name} must be a non-empty list of modules`);
      modules.forEach((m, i) => {
        if (!m || typeof m !== "object" || !("native" in m) || typeof (m as SentenceModule).save !== "function") {
          throw new TypeError(`Router: subModules.${name}[${i}] is not a sentence-transformers module`);
        }
      });
      if (!isInputModule(modules[0]!)) throw new TypeError(`Router: subModules.${name}[0] must tokenize (Transformer, StaticEmbedding, WordEmbeddings, ...), not ${modules[0]!.className}`);
      routes[name] = [...modules];
    }
    const names = Object.keys(routes);
    const allowEmptyKey = options.allowEmptyKey ?? true;
    if (typeof allowEmptyKey !== "boolean") throw new TypeError("Router: allowEmptyKey must be true or false");
    let defaultRoute = options.defaultRoute ?? null;
    if (defaultRoute !== null && !names.includes(defaultRoute)) {
      throw new RangeError(`Router: defaultRoute ${JSON.stringify(defaultRoute)} is not one of the routes (${names.join(", ")})`);
    }
    if (allowEmptyKey && defaultRoute === null) defaultRoute = names[0]!;
    const mappings = options.routeMappings ?? [];
    if (!Array.isArray(mappings)) throw new TypeError("Router: routeMappings must be a list of {task, modality, route}");
    mappings.forEach((m, i) => {
      if (typeof m !== "object" || m === null || !names.includes(m.route)) {
        throw new RangeError(`Router: routeMappings[${i}] maps to ${JSON.stringify(m?.route)}, which is not one of the routes (${names.join(", ")})`);
      }
    });
    this.subModules = routes;
    this.defaultRoute = defaultRoute;
    this.allowEmptyKey = allowEmptyKey;
    this.routeMappings = mappings.map((m) => ({ task: m.task ?? null, modality: m.modality ?? null, route: m.route }));
    this.native = callNativeSync("Router", (n) =>
      n.createRouter(
        names.map((name) => ({ name, modules: routes[name]!.map((m) => m.native) })),
        defaultRoute ?? "",
      ),
    );
  }

  /** A Router with a "query" and a "document" route, as sentence-transformers' `Router.for_query_document`. */
  static forQueryDocument(
    queryModules: SentenceModule[],
    documentModules: SentenceModule[],
    options: { defaultRoute?: string | null; allowEmptyKey?: boolean } = {},
  ): Router {
    const defaultRoute = "defaultRoute" in options ? options.defaultRoute : "document";
    return new Router({ subModules: { query: queryModules, document: documentModules }, defaultRoute, allowEmptyKey: options.allowEmptyKey ?? true });
  }

  /** The route a batch of `task` takes (texts), or an ERR_INPUT naming the routes there are. */
  resolveRoute(task?: string): string {
    if (task !== undefined && typeof task !== "string") throw new TypeError(`Router: task must be a string, got ${typeof task}`);
    const t = task ?? null;
    const find = (tk: string | null, md: Modality | null) =>
      this.routeMappings.find((m) => m.task === tk && modalityKey(m.modality) === modalityKey(md))?.route;
    let route = find(t, TEXT) ?? find(t, null) ?? find(null, TEXT) ?? find(null, null);
    if (route === undefined && t !== null && Object.hasOwn(this.subModules, t)) route = t;
    if (route === undefined && Object.hasOwn(this.subModules, TEXT as string)) route = TEXT as string;
    if (route === undefined && t !== null) {
      throw new SbertError("ERR_INPUT", `Router: no route for task ${JSON.stringify(t)}; it has ${this.routesString()}`, { op: "Router" });
    }
    route ??= this.defaultRoute ?? undefined;
    if (route === undefined) {
      throw new SbertError("ERR_INPUT", `Router: no task given and no default route; give a task (${this.routesString()}) or set a defaultRoute`, { op: "Router" });
    }
    return route;
  }

  private routesString(): string {
    const routes = Object.keys(this.subModules).map((r) => `task=${JSON.stringify(r)}`);
    for (const m of this.routeMappings) {
      if (m.modality === null) routes.push(`task=${JSON.stringify(m.task)}`);
      else if (m.task === null) routes.push(`modality=${JSON.stringify(m.modality)}`);
      else routes.push(`(task=${JSON.stringify(m.task)}, modality=${JSON.stringify(m.modality)})`);
    }
    return routes.join(", ");
  }

  private inputOf(route: string): InputModule {
    return this.subModules[route]![0] as InputModule;
  }

  /** The first route's tokenizer. */
  get tokenizer(): Tokenizer | WhitespaceTokenizer {
    return this.inputOf(Object.keys(this.subModules)[0]!).tokenizer;
  }

  /** The largest of the routes' input modules' lengths. */
  get maxSeqLength(): number {
    return Math.max(...Object.keys(this.subModules).map((r) => this.inputOf(r).maxSeqLength));
  }

  /** Sets every route's input module's maxSeqLength. */
  set maxSeqLength(value: number) {
    for (const r of Object.keys(this.subModules)) this.inputOf(r).maxSeqLength = value;
  }

  /** The sentence embedding size of the first route (its last module that has one). */
  getSentenceEmbeddingDimension(): number | undefined {
    const modules = Object.values(this.subModules)[0]!;
    for (let i = modules.length - 1; i >= 0; i--) {
      const m = modules[i] as Partial<{ getSentenceEmbeddingDimension(): number | undefined }>;
      if (typeof m.getSentenceEmbeddingDimension === "function") {
        const dim = m.getSentenceEmbeddingDimension();
        if (dim !== undefined) return dim;
      }
    }
    return undefined;
  }

  /** Tokenizes with the input module of the task's route; the batch carries that route to the native side. */
  tokenize(texts: TextInput[], options: TaskOptions = {}): NativeTokenBatch {
    const route = this.resolveRoute(options.task);
    return { ...this.inputOf(route).tokenize(texts), route };
  }

  promptLength(prompt: string, options: TaskOptions = {}): number | undefined {
    return this.inputOf(this.resolveRoute(options.task)).promptLength(prompt);
  }

  /** Each route's modules with the folder names sentence-transformers gives them (`{route}_{i}_{Class}`). */
  private folders(): { route: string; id: string; module: SentenceModule }[] {
    return Object.entries(this.subModules).flatMap(([route, modules]) => modules.map((module, i) => ({ route, id: `${route}_${i}_${module.className}`, module })));
  }

  getConfigDict(): Record<string, unknown> {
    const mappings: Record<string, string> = {};
    for (const m of this.routeMappings) mappings[pyKey(m.task, m.modality)] = m.route;
    return { default_route: this.defaultRoute, allow_empty_key: this.allowEmptyKey, route_mappings: mappings };
  }

  /** Writes each route's modules into `{route}_{i}_{Class}/` and router_config.json (types, structure, parameters). */
  async save(dir: string): Promise<void> {
    const types: Record<string, string> = {};
    const structure: Record<string, string[]> = {};
    for (const { route, id, module } of this.folders()) {
      const sub = join(dir, id);
      await mkdir(sub, { recursive: true });
      await module.save(sub);
      types[id] = module.moduleType;
      (structure[route] ??= []).push(id);
    }
    await writeJson(join(dir, CONFIG_FILE), { types, structure, parameters: this.getConfigDict() }, 4);
  }

  /** Reloads every route's weights from a folder this Router saved (checkpoints). @internal */
  async reloadWeights(dir: string, op: string): Promise<void> {
    for (const { id, module } of this.folders()) {
      if (module.native.parameterCount() === 0) continue;
      const weights = await weightsForNative(join(dir, id));
      await callNative(op, () => module.native.loadWeights(weights));
    }
  }

  /** Reads router_config.json (or an older Asym folder's config.json) and every module it lists. */
  static async load(dir: string, options: { device?: string } = {}): Promise<Router> {
    const device = options.device ?? "cpu";
    let file = join(dir, CONFIG_FILE);
    let config = await readJsonObject(file, { optional: true, op: OP_LOAD });
    if (config === undefined) {
      file = join(dir, OLD_CONFIG_FILE);
      config = await readJsonObject(file, { optional: true, op: OP_LOAD });
    }
    if (config === undefined) throw new SbertError("ERR_FILE_NOT_FOUND", `${join(dir, CONFIG_FILE)} is missing (a Router folder needs it)`, { op: OP_LOAD });
    const bad = (field: string, what: string): never => {
      throw new SbertError("ERR_CONFIG", `${file}: field '${field}' ${what}`, { op: OP_LOAD });
    };
    const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
    const types = config["types"];
    if (!isMap(types) || Object.keys(types).length === 0) bad("types", "must map module folder names to module types");
    const structure = config["structure"];
    if (!isMap(structure) || Object.keys(structure).length === 0) bad("structure", "must map route names to lists of module folder names");
    const parameters = config["parameters"] ?? {};
    if (!isMap(parameters)) bad("parameters", "must be an object");
    const params = parameters as Record<string, unknown>;
    for (const key of Object.keys(params)) {
      if (!["default_route", "allow_empty_key", "route_mappings"].includes(key)) bad(`parameters.${key}`, "is not a Router parameter (default_route, allow_empty_key, route_mappings)");
    }
    const defaultRoute = params["default_route"] ?? null;
    if (defaultRoute !== null && typeof defaultRoute !== "string") bad("parameters.default_route", "must be a route name or null");
    const allowEmptyKey = params["allow_empty_key"] ?? true;
    if (typeof allowEmptyKey !== "boolean") bad("parameters.allow_empty_key", "must be true or false");
    const rawMappings = params["route_mappings"] ?? {};
    if (!isMap(rawMappings)) bad("parameters.route_mappings", "must map '(task, modality)' strings to route names");
    const routeMappings: RouteMapping[] = [];
    for (const [key, route] of Object.entries(rawMappings as Record<string, unknown>)) {
      let parsed: PyValue;
      try {
        parsed = parsePyLiteral(key);
      } catch (e) {
        return bad(`parameters.route_mappings[${JSON.stringify(key)}]`, `is not a (task, modality) tuple: ${(e as Error).message}`);
      }
      const okModality = (m: PyValue) => m === null || typeof m === "string" || (Array.isArray(m) && m.every((x) => typeof x === "string"));
      if (!Array.isArray(parsed) || parsed.length !== 2 || (parsed[0] !== null && typeof parsed[0] !== "string") || !okModality(parsed[1]!)) {
        bad(`parameters.route_mappings[${JSON.stringify(key)}]`, "must be a (task, modality) tuple of None or strings");
      }
      if (typeof route !== "string") bad(`parameters.route_mappings[${JSON.stringify(key)}]`, "must name a route");
      const [task, modality] = parsed as [string | null, Modality | null];
      routeMappings.push({ task, modality, route: route as string });
    }

    const loaded = new Map<string, SentenceModule>();
    try {
      for (const [id, type] of Object.entries(types as Record<string, unknown>)) {
        const cls = moduleClassName(type);
        if (cls === undefined) bad(`types.${id}`, `${JSON.stringify(type)} is not a module type sbert-node has (${Object.keys(MODULE_LOADERS).join(", ")})`);
        if (id === "" || id.includes("/") || id.includes("\\") || id === "." || id === "..") bad(`types`, `names the folder ${JSON.stringify(id)}, which is not a plain subfolder name`);
        loaded.set(id, await MODULE_LOADERS[cls!]!(join(dir, id), device));
      }
      const subModules: Record<string, SentenceModule[]> = {};
      for (const [route, ids] of Object.entries(structure as Record<string, unknown>)) {
        if (!Array.isArray(ids) || ids.length === 0) bad(`structure.${route}`, "must be a non-empty list of module folder names");
        subModules[route] = (ids as unknown[]).map((id, i) => {
          const m = typeof id === "string" ? loaded.get(id) : undefined;
          if (m === undefined) return bad(`structure.${route}[${i}]`, `names ${JSON.stringify(id)}, which 'types' does not list`);
          return m;
        });
      }
      try {
        return new Router({ subModules, defaultRoute: defaultRoute as string | null, allowEmptyKey: allowEmptyKey as boolean, routeMappings });
      } catch (e) {
        if (e instanceof SbertError) throw e;
        throw new SbertError("ERR_CONFIG", `${file}: ${(e as Error).message}`, { op: OP_LOAD, cause: e });
      }
    } catch (e) {
      for (const m of loaded.values()) m.dispose();
      throw e;
    }
  }

  /** Frees the Router and every module of its routes. */
  dispose(): void {
    this.native.dispose();
    for (const m of new Set(Object.values(this.subModules).flat())) m.dispose();
  }

  toString(): string {
    const routes = Object.entries(this.subModules).map(([r, ms]) => `${r}: [${ms.map((m) => String(m)).join(", ")}]`);
    return `Router(${routes.join("; ")}, default_route=${JSON.stringify(this.defaultRoute)})`;
  }
}
