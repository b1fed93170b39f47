import type { NativeLossSpec } from "../../types/native.js";
import type { SentenceTransformer } from "../SentenceTransformer.js";
import { checkNonNegative, checkOneOf, type Loss } from "./Loss.js";
import { WrapperLoss } from "./WrapperLoss.js";

export type LayerWeighting = "uniform" | "log" | "linear";

export interface AdaptiveLayerLossOptions {
  /** Earlier layers trained per step, drawn at random (<= 0: every one). Default 1. */
  nLayersPerStep?: number;
  /** The weight of the loss on the last layer. Default 1. */
  lastLayerWeight?: number;
  /** The weight of the earlier layers' losses (averaged over the layers drawn). Default 1. */
  priorLayersWeight?: number;
  /** The weight of the KL divergence between each earlier layer's embeddings and the last one's. Default 1. */
  klDivWeight?: number;
  /** The temperature of that KL divergence (0: none). Default 0.3. */
  klTemperature?: number;
  /** Each earlier layer i's loss times 1 ("uniform", default), 1 / (1 + ln(1 + i)) ("log") or 1 / (1 + i) ("linear"). */
  layerWeighting?: LayerWeighting;
}

/**
 * Trains the model so that its earlier layers already give usable embeddings (2D Matryoshka, Li et al. 2024): the
 * loss it wraps runs on the sentence embeddings pooled from the last layer and from earlier hidden states (0 being
 * the embeddings' output), plus the KL divergence of each earlier layer's embeddings from the last layer's. The
 * model's first module must be a Transformer; a loss with a gradient cache cannot be wrapped.
 */
export class AdaptiveLayerLoss extends WrapperLoss {
  readonly name: string = "AdaptiveLayerLoss";
  readonly nLayersPerStep: number;
  readonly lastLayerWeight: number;
  readonly priorLayersWeight: number;
  readonly klDivWeight: number;
  readonly klTemperature: number;
  readonly layerWeighting: LayerWeighting;

  constructor(model: SentenceTransformer, loss: Loss, options: AdaptiveLayerLossOptions = {}) {
    super(model, loss, new.target.name);
    const where = new.target.name;
    if (loss instanceof AdaptiveLayerLoss) throw new TypeError(`${where}: the inner loss cannot be another AdaptiveLayerLoss`);
    if (loss.nativeSpec().miniBatchSize !== undefined) throw new TypeError(`${where}: ${loss.name} has a gradient cache (miniBatchSize), which AdaptiveLayerLoss cannot wrap`);
    const n = options.nLayersPerStep ?? 1;
    if (!Number.isInteger(n)) throw new RangeError(`${where}: nLayersPerStep must be an integer, got ${String(n)}`);
    this.nLayersPerStep = n;
    this.lastLayerWeight = checkNonNegative(options.lastLayerWeight ?? 1, "lastLayerWeight", where);
    this.priorLayersWeight = checkNonNegative(options.priorLayersWeight ?? 1, "priorLayersWeight", where);
    this.klDivWeight = checkNonNegative(options.klDivWeight ?? 1, "klDivWeight", where);
    this.klTemperature = checkNonNegative(options.klTemperature ?? 0.3, "klTemperature", where);
    this.layerWeighting = checkOneOf(options.layerWeighting ?? "uniform", ["uniform", "log", "linear"], "layerWeighting", where);
  }

  nativeSpec(): NativeLossSpec {
    return {
      ...this.loss.nativeSpec(),
      adaptiveLayer: {
        nLayersPerStep: this.nLayersPerStep,
        lastLayerWeight: this.lastLayerWeight,
        priorLayersWeight: this.priorLayersWeight,
        klDivWeight: this.klDivWeight,
        klTemperature: this.klTemperature,
        layerWeighting: this.layerWeighting,
      },
    };
  }

  getConfigDict(): Record<string, unknown> {
    return {
      loss: this.loss.name,
      n_layers_per_step: this.nLayersPerStep,
      last_layer_weight: this.lastLayerWeight,
      prior_layers_weight: this.priorLayersWeight,
      kl_div_weight: this.klDivWeight,
      kl_temperature: this.klTemperature,
      layer_weighting: this.layerWeighting,
    };
  }
}
