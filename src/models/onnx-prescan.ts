/**
 * A bounded first look at an ONNX model's bytes, before they are decoded: a model whose claims
 * cannot be met (a tensor of millions of dimensions, more elements than its bytes hold, more
 * nodes than any model Kiln compiles) is refused in one pass over the bytes, without building
 * the objects that decoding it would (4 MB of packed dimensions decode to 4 million objects).
 *
 * It reads the protobuf wire format itself and knows only the fields that can be costly;
 * everything else is skipped. It refuses nothing that the importer would accept: what it
 * refuses, decoding and importing would refuse too, only later and at a far higher cost.
 */

export class ModelClaimError extends Error {
  override readonly name = 'ModelClaimError';
}

/** KILN_MODEL_MAX_NODES's default. */
export const DEFAULT_MAX_NODES = 100_000;

export interface PrescanLimits {
  /** Nodes in the model, its subgraphs (If, Loop, Scan bodies) and functions together. */
  maxNodes: number;
}

export interface PrescanSummary {
  nodes: number;
  tensors: number;
}

/** The most dimensions a tensor or a declared shape may have. */
export const MAX_RANK = 64;
/** Messages within messages: graphs in attributes of nodes of graphs, types of types. */
export const MAX_NESTING = 64;

/** Bits per element of each ONNX element type, as stored in raw_data (0: not checked). */
const ELEMENT_BITS: Record<number, number> = {
  1: 32, 2: 8, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 9: 8, 10: 16, 11: 64, 12: 32, 13: 64, 14: 64, 15: 128, 16: 16,
  17: 8, 18: 8, 19: 8, 20: 8, 21: 4, 22: 4, 23: 4,
};

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start: number,
    public end: number,
  ) {
    this.pos = start;
  }

  /** A varint as a number (exact up to 2^53; larger ones are only compared and counted). */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ModelClaimError('not a valid ONNX model: it ends inside a number');
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    throw new ModelClaimError('not a valid ONNX model: a number is longer than 10 bytes');
  }

  /** The end of a length-delimited field that starts here. */
  lengthEnd(): number {
    const len = this.varint();
    if (len > this.end - this.pos) throw new ModelClaimError('not a valid ONNX model: a field is longer than what is left of the model');
    return this.pos + len;
  }

  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_I64:
        this.advance(8);
        return;
      case WIRE_LEN:
        this.pos = this.lengthEnd();
        return;
      case WIRE_I32:
        this.advance(4);
        return;
      default:
        throw new ModelClaimError(`not a valid ONNX model: wire type ${wire} is not one ONNX uses`);
    }
  }

  private advance(n: number): void {
    if (n > this.end - this.pos) throw new ModelClaimError('not a valid ONNX model: it ends inside a field');
    this.pos += n;
  }

  /** Calls `field` for each field of the message up to `end`. */
  fields(field: (no: number, wire: number) => void): void {
    while (this.pos < this.end) {
      const key = this.varint();
      const no = Math.floor(key / 8);
      const wire = key % 8;
      if (no === 0) throw new ModelClaimError('not a valid ONNX model: a field numbered 0');
      field(no, wire);
    }
  }

  /** How many values a repeated varint field holds here: packed (counted by their last bytes) or one. */
  countVarints(wire: number): number {
    if (wire !== WIRE_LEN) {
      this.skip(wire);
      return 1;
    }
    const end = this.lengthEnd();
    let n = 0;
    for (let i = this.pos; i < end; i++) if (this.buf[i] < 0x80) n++;
    this.pos = end;
    return n;
  }

  /** How many values of `size` bytes a repeated fixed-size field holds here: packed or one. */
  countFixed(wire: number, size: number): number {
    if (wire !== WIRE_LEN) {
      this.skip(wire);
      return 1;
    }
    const end = this.lengthEnd();
    const n = Math.floor((end - this.pos) / size);
    this.pos = end;
    return n;
  }

  /** Runs `body` over the bytes up to `end` (within this message), then moves past them. */
  within(end: number, body: () => void): void {
    const outer = this.end;
    this.end = end;
    try {
      body();
    } finally {
      this.end = outer;
    }
    this.pos = end;
  }

  /** A short string field (a name), cut to 64 characters for messages. */
  name(wire: number): string {
    if (wire !== WIRE_LEN) {
      this.skip(wire);
      return '';
    }
    const end = this.lengthEnd();
    const s = Buffer.from(this.buf.buffer, this.buf.byteOffset + this.pos, Math.min(end - this.pos, 256)).toString('utf8');
    this.pos = end;
    return s.length > 64 ? `${s.slice(0, 64)}…` : s;
  }
}

/**
 * Checks what an ONNX model claims against what it holds and against the bounds, in one pass
 * over its bytes. Throws a ModelClaimError that says what is wrong; returns counts otherwise.
 */
export function prescanOnnx(bytes: Uint8Array, limits: PrescanLimits): PrescanSummary {
  const summary: PrescanSummary = { nodes: 0, tensors: 0 };
  const r = new Reader(bytes, 0, bytes.length);
  const message = (wire: number, depth: number, what: string, body: (depth: number) => void) => {
    if (wire !== WIRE_LEN) throw new ModelClaimError(`not a valid ONNX model: ${what} is not a message`);
    if (depth >= MAX_NESTING) throw new ModelClaimError(`the model nests messages (graphs in attributes, types in types) more than ${MAX_NESTING} levels deep`);
    r.within(r.lengthEnd(), () => body(depth + 1));
  };
  const count = (n: number, what: string, where: string) => {
    if (n > limits.maxNodes) throw new ModelClaimError(`${where} has more than ${limits.maxNodes} ${what}; no model Kiln compiles has that many (KILN_MODEL_MAX_NODES)`);
  };

  const graph = (depth: number, where: string) => {
    const counts: Record<string, number> = {};
    const add = (what: string) => {
      counts[what] = (counts[what] ?? 0) + 1;
      count(counts[what], what, where);
    };
    r.fields((no, wire) => {
      if (no === 1) nodeAt(wire, depth);
      else if (no === 5) {
        add('initializers');
        message(wire, depth, 'an initializer', () => tensor('initializer'));
      } else if (no === 15) {
        add('sparse initializers');
        message(wire, depth, 'a sparse initializer', (d) => sparseTensor(d, 'sparse initializer'));
      } else if (no === 11 || no === 12 || no === 13) {
        const what = no === 11 ? 'inputs' : no === 12 ? 'outputs' : 'value_info entries';
        add(what);
        message(wire, depth, 'a value_info', (d) => valueInfo(d, what === 'inputs' ? 'input' : what === 'outputs' ? 'output' : 'value_info'));
      } else r.skip(wire);
    });
  };

  const fn = (depth: number) => {
    let name = '';
    r.fields((no, wire) => {
      if (no === 1) name = r.name(wire);
      else if (no === 7) nodeAt(wire, depth);
      else if (no === 12) message(wire, depth, 'a value_info', (d) => valueInfo(d, `function ${name} value_info`));
      else r.skip(wire);
    });
  };

  const nodeAt = (wire: number, depth: number) => {
    if (++summary.nodes > limits.maxNodes) {
      throw new ModelClaimError(`the model has more than ${limits.maxNodes} nodes (its subgraphs and functions included); no model Kiln compiles has that many (KILN_MODEL_MAX_NODES)`);
    }
    message(wire, depth, 'a node', (d) => node(d));
  };

  const node = (depth: number) => {
    let name = '';
    r.fields((no, wire) => {
      if (no === 3) name = r.name(wire);
      else if (no === 5) message(wire, depth, 'an attribute', (d) => attribute(d, name));
      else r.skip(wire);
    });
  };

  const attribute = (depth: number, nodeName: string) => {
    const where = nodeName ? `node ${nodeName}: attribute` : 'an attribute';
    r.fields((no, wire) => {
      if (no === 5 || no === 10) message(wire, depth, 'a tensor', () => tensor(`${where} tensor`));
      else if (no === 6 || no === 11) message(wire, depth, 'a subgraph', (d) => graph(d, `a subgraph of ${nodeName || 'a node'}`));
      else if (no === 22 || no === 23) message(wire, depth, 'a sparse tensor', (d) => sparseTensor(d, `${where} sparse tensor`));
      else if (no === 14 || no === 15) message(wire, depth, 'a type', (d) => type(d, where));
      else r.skip(wire);
    });
  };

  const rank = (n: number, what: string) => {
    if (n > MAX_RANK) throw new ModelClaimError(`${what} declares ${n} dimensions; a tensor may have at most ${MAX_RANK}`);
  };

  const tensor = (what: string) => {
    summary.tensors++;
    let name = '';
    let dims = 0;
    let elements = 1;
    let negative = false;
    let dataType = 0;
    let rawBytes = 0;
    let held = 0;
    let external = false;
    r.fields((no, wire) => {
      switch (no) {
        case 1: {
          // dims: packed int64, or one at a time. Their product is what the tensor claims.
          const dim = () => {
            const d = r.varint();
            dims++;
            if (d >= 2 ** 63) negative = true;
            else elements *= d;
          };
          if (wire === WIRE_LEN) {
            r.within(r.lengthEnd(), () => {
              while (r.pos < r.end) dim();
            });
          } else if (wire === WIRE_VARINT) dim();
          else r.skip(wire);
          return;
        }
        case 2:
          dataType = wire === WIRE_VARINT ? r.varint() : (r.skip(wire), 0);
          return;
        case 8:
          name = r.name(wire);
          return;
        case 9:
          if (wire === WIRE_LEN) {
            const end = r.lengthEnd();
            rawBytes += end - r.pos;
            r.pos = end;
          } else r.skip(wire);
          return;
        case 4:
          held = Math.max(held, r.countFixed(wire, 4));
          return;
        case 10:
        case 11:
          held = Math.max(held, no === 10 ? r.countFixed(wire, 8) : r.countVarints(wire));
          return;
        case 5:
          // int32_data also carries 16-bit and smaller types, and 4-bit ones two to an entry.
          held = Math.max(held, r.countVarints(wire) * 2);
          return;
        case 7:
          held = Math.max(held, r.countVarints(wire));
          return;
        case 6:
          r.skip(wire);
          held++;
          return;
        case 13:
          external = true;
          r.skip(wire);
          return;
        case 14:
          if (wire === WIRE_VARINT && r.varint() === 1) external = true;
          else if (wire !== WIRE_VARINT) r.skip(wire);
          return;
        default:
          r.skip(wire);
      }
    });
    const label = `${what}${name ? ` ${name}` : ''}`;
    rank(dims, label);
    if (negative) throw new ModelClaimError(`${label} has a negative dimension`);
    if (external) return; // refused by the importer, with its own message
    const bits = ELEMENT_BITS[dataType];
    if (!bits) return; // strings, or a type the importer names when it refuses it
    const canHold = Math.max(held, Math.floor((rawBytes * 8) / bits));
    if (elements > canHold) {
      const claimed = Number.isSafeInteger(elements) ? String(elements) : 'more than 2^53';
      throw new ModelClaimError(`${label} declares ${claimed} elements, but its data holds at most ${canHold}`);
    }
  };

  const sparseTensor = (depth: number, what: string) => {
    let dims = 0;
    r.fields((no, wire) => {
      if (no === 1 || no === 2) message(wire, depth, 'a tensor', () => tensor(`${what} ${no === 1 ? 'values' : 'indices'}`));
      else if (no === 3) dims += r.countVarints(wire);
      else r.skip(wire);
    });
    rank(dims, what);
  };

  const valueInfo = (depth: number, what: string) => {
    let name = '';
    r.fields((no, wire) => {
      if (no === 1) name = r.name(wire);
      else if (no === 2) message(wire, depth, 'a type', (d) => type(d, `${what}${name ? ` ${name}` : ''}`));
      else r.skip(wire);
    });
  };

  const type = (depth: number, what: string) => {
    r.fields((no, wire) => {
      // tensor_type (1) and sparse_tensor_type (8): elem_type and shape; sequence (4) and
      // optional (9): a type; map (5): key type and value type.
      if (no === 1 || no === 8) message(wire, depth, 'a tensor type', (d) => tensorType(d, what));
      else if (no === 4 || no === 9) message(wire, depth, 'a type', (d) => r.fields((n2, w2) => (n2 === 1 ? message(w2, d, 'a type', (d2) => type(d2, what)) : r.skip(w2))));
      else if (no === 5) message(wire, depth, 'a map type', (d) => r.fields((n2, w2) => (n2 === 2 ? message(w2, d, 'a type', (d2) => type(d2, what)) : r.skip(w2))));
      else r.skip(wire);
    });
  };

  const tensorType = (depth: number, what: string) => {
    r.fields((no, wire) => {
      if (no === 2) {
        message(wire, depth, 'a shape', () => {
          let dims = 0;
          r.fields((n2, w2) => {
            if (n2 === 1) dims++;
            r.skip(w2);
          });
          rank(dims, `${what}'s shape`);
        });
      } else r.skip(wire);
    });
  };

  r.fields((no, wire) => {
    if (no === 7) message(wire, 0, 'the graph', (d) => graph(d, 'the graph'));
    else if (no === 25) message(wire, 0, 'a function', (d) => fn(d));
    else if (no === 20) {
      // training_info: its initialization (1) and algorithm (2) graphs
      message(wire, 0, 'training_info', (d) => r.fields((n2, w2) => (n2 === 1 || n2 === 2 ? message(w2, d, 'a graph', (d2) => graph(d2, 'a training graph')) : r.skip(w2))));
    } else r.skip(wire);
  });
  return summary;
}
