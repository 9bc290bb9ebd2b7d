// Decoder for the binary "pack" format (see docs/architecture.md and explanation/pack.py).
// Arrays come back as typed-array views over the received buffer: no copy, no number parsing.

const MAGIC = "TSP1";
const TYPED = { float32: Float32Array, uint8: Uint8Array, int32: Int32Array };

export function decodePack(buffer) {
  const bytes = new Uint8Array(buffer);
  const magic = String.fromCharCode(...bytes.subarray(0, 4));
  if (magic !== MAGIC) throw new Error("not a tensorsight pack (bad magic)");
  const headerLength = new DataView(buffer).getUint32(4, true);
  const bodyStart = 8 + headerLength;
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, bodyStart)));
  const arrays = {};
  for (const [name, entry] of Object.entries(header.arrays)) {
    const Typed = TYPED[entry.dtype];
    if (!Typed) throw new Error(`pack array ${name} has unknown dtype ${entry.dtype}`);
    const data = new Typed(buffer, bodyStart + entry.offset, entry.nbytes / Typed.BYTES_PER_ELEMENT);
    arrays[name] = { dtype: entry.dtype, shape: entry.shape, data };
  }
  return { meta: header.meta, arrays };
}
