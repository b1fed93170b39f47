export { hubCacheDir, resolveModelFolder, modelIdFor, type HubOptions } from "./download.js";
export { pushFolderToHub, pushSavedFolder, type PushOptions, type PushResult } from "./push.js";
export { downloadParquetExport, PARQUET_EXPORT_REVISION, type ParquetExport, type ParquetExportOptions } from "./datasets.js";
