export { Tokenizer, longestFirst, type EncodedBatch, type TextInput } from "./Tokenizer.js";
export { buildBertTokenizerJson, readVocabTxt, type BertTokenizerOptions } from "./wordpiece.js";
