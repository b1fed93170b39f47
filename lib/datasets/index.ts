export { NoDuplicatesDataLoader } from "./NoDuplicatesDataLoader.js";
