/**
 * The memory plan of a compiled model: its intermediate tensors are parts of one block, and a
 * tensor takes the room of those no later kernel reads. Tensors are placed as the kernels are
 * emitted, in the order they run: a tensor gets room when its first writer is emitted (the
 * lowest offset where it fits among the tensors still live), and gives it back after the last
 * kernel that reads it. A tensor read under another name (a Reshape's output that is its input)
 * lives until the last reader of either name.
 */
export class MemoryPlan {
  private live: Block[] = [];
  private readonly blocks = new Map<string, Block>();
  /** The block's size: the most the live tensors ever needed at once, in bytes. */
  size = 0;

  /** `lastUse`: for each tensor, the index of the last kernel that reads it. */
  constructor(private readonly lastUse: ReadonlyMap<string, number>) {}

  /** Room for `name` (`bytes`, 64-byte aligned), first written by kernel `now`; its offset in the block. */
  place(name: string, bytes: number, now: number): number {
    const need = Math.max(64, Math.ceil(bytes / 64) * 64);
    let off = 0;
    for (const b of [...this.live].sort((x, y) => x.off - y.off)) {
      if (b.off - off >= need) break;
      off = Math.max(off, b.end);
    }
    const block: Block = { off, end: off + need, until: Math.max(now, this.lastUse.get(name) ?? now) };
    this.live.push(block);
    this.blocks.set(name, block);
    this.size = Math.max(this.size, block.end);
    return off;
  }

  /** `alias` is `name`'s memory (or a part of it): the room stays until the last reader of either. */
  share(alias: string, name: string): void {
    const b = this.blocks.get(name);
    if (!b) return;
    b.until = Math.max(b.until, this.lastUse.get(alias) ?? 0);
    this.blocks.set(alias, b);
  }

  /** After kernel `now`: gives back the room of every tensor no later kernel reads. */
  release(now: number): void {
    this.live = this.live.filter((b) => b.until > now);
  }
}

interface Block {
  off: number;
  end: number;
  /** The last kernel that reads it. */
  until: number;
}
