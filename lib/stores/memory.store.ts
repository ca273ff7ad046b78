// The store lives in ./memory/ (one file per piece); this path stays the one the rest of the library imports.
export { MemoryStore, type MemoryStoreOptions } from './memory/memory.store.js';
