export { NoDuplicatesDataLoader } from "./NoDuplicatesDataLoader.js";
export { Dataset } from "./Dataset.js";
export { loadDataset, type LoadDatasetOptions } from "./loadDataset.js";
