/**
 * Recently read content items, kept so that reads survive a database outage (stale-if-error):
 * raw files and variants live in the blob store, and an item's metadata never changes after
 * upload, so the last copy read is as good as a fresh one unless the item was deleted meanwhile.
 * It is consulted only when the database cannot answer; normal reads always ask the database.
 */
import type { ContentItem } from './content-service.ts';

/** Enough for the hot set of a busy site at ~0.5 KB per item. */
const DEFAULT_CAPACITY = 20_000;

export class ItemCache {
  readonly #byId = new Map<string, ContentItem>();
  readonly #bySha = new Map<string, ContentItem>();
  readonly #capacity: number;

  constructor(capacity = DEFAULT_CAPACITY) {
    this.#capacity = capacity;
  }

  remember(item: ContentItem): void {
    // Re-inserting moves the item to the young end (Map keeps insertion order): least recently
    // read items are evicted first.
    this.#byId.delete(item.id);
    this.#byId.set(item.id, item);
    if (!this.#bySha.has(item.sha256)) this.#bySha.set(item.sha256, item);
    while (this.#byId.size > this.#capacity) {
      const oldest = this.#byId.keys().next().value as string;
      const gone = this.#byId.get(oldest);
      this.#byId.delete(oldest);
      if (gone && this.#bySha.get(gone.sha256) === gone) this.#bySha.delete(gone.sha256);
    }
  }

  byId(id: string): ContentItem | undefined {
    return this.#byId.get(id);
  }

  bySha(sha256: string): ContentItem | undefined {
    return this.#bySha.get(sha256);
  }

  forget(id: string): void {
    const item = this.#byId.get(id);
    this.#byId.delete(id);
    if (item && this.#bySha.get(item.sha256) === item) this.#bySha.delete(item.sha256);
  }
}
