// A growable FIFO with O(1) push and shift at both ends, for the best-effort writer's buffer
// (Array#shift is O(n): at 10,000 buffered events and thousands of events a second that adds up).
// Capacity grows by doubling; the writer, not this class, enforces the bound.

export class RingBuffer<T> {
  #slots: (T | undefined)[];
  #head = 0;
  #size = 0;

  constructor(initialCapacity = 64) {
    this.#slots = new Array<T | undefined>(Math.max(2, initialCapacity));
  }

  get length(): number {
    return this.#size;
  }

  push(item: T): void {
    this.#ensure(this.#size + 1);
    this.#slots[(this.#head + this.#size) % this.#slots.length] = item;
    this.#size += 1;
  }

  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#slots[this.#head];
    this.#slots[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#slots.length;
    this.#size -= 1;
    return item;
  }

  /** Every item, oldest first, without removing any. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.#size; i++) {
      yield this.#slots[(this.#head + i) % this.#slots.length] as T;
    }
  }

  /** Removes and returns up to `count` items from the front, oldest first. */
  take(count: number): T[] {
    const out: T[] = [];
    while (out.length < count && this.#size > 0) out.push(this.shift() as T);
    return out;
  }

  /** Puts `items` back at the front, in their order (they were taken from there). */
  unshiftAll(items: readonly T[]): void {
    this.#ensure(this.#size + items.length);
    for (let i = items.length - 1; i >= 0; i -= 1) {
      this.#head = (this.#head - 1 + this.#slots.length) % this.#slots.length;
      this.#slots[this.#head] = items[i];
      this.#size += 1;
    }
  }

  clear(): void {
    this.#slots = new Array<T | undefined>(this.#slots.length);
    this.#head = 0;
    this.#size = 0;
  }

  #ensure(needed: number): void {
    if (needed <= this.#slots.length) return;
    let capacity = this.#slots.length;
    while (capacity < needed) capacity *= 2;
    const slots = new Array<T | undefined>(capacity);
    for (let i = 0; i < this.#size; i += 1)
      slots[i] = this.#slots[(this.#head + i) % this.#slots.length];
    this.#slots = slots;
    this.#head = 0;
  }
}
