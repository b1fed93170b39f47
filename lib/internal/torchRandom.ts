/**
 * torch.Generator's CPU stream, so that training draws the batch orders sentence-transformers' samplers draw:
 * `manual_seed` starts a 32-bit Mersenne Twister (MT19937, seeded with the low 32 bits of the seed, as
 * at::mt19937 is), `random()` is one MT19937 output, and `randperm(n)` is torch's CPU algorithm for n below
 * 2^32 / 20: the identity, then for i = 0 .. n-2 a swap of i with i + random() % (n - i).
 */
const N = 624;
const M = 397;

export class TorchGenerator {
  readonly #state = new Uint32Array(N);
  #index = N;

  constructor(seed = 67280421310721) {
    this.manualSeed(seed);
  }

  manualSeed(seed: number): this {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`manualSeed: seed must be a non-negative integer, got ${String(seed)}`);
    const s = this.#state;
    s[0] = seed % 2 ** 32;
    for (let i = 1; i < N; i++) {
      const prev = s[i - 1]! ^ (s[i - 1]! >>> 30);
      s[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
    this.#index = N;
    return this;
  }

  #twist(): void {
    const s = this.#state;
    for (let i = 0; i < N; i++) {
      const y = (s[i]! & 0x80000000) | (s[(i + 1) % N]! & 0x7fffffff);
      s[i] = s[(i + M) % N]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.#index = 0;
  }

  /** One 32-bit output (torch's CPUGeneratorImpl::random). */
  random(): number {
    if (this.#index >= N) this.#twist();
    let y = this.#state[this.#index++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** torch.randperm(n, generator=this). */
  randperm(n: number): number[] {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`randperm: n must be a non-negative integer, got ${String(n)}`);
    // Larger n takes another path in torch (64-bit draws); no dataset here comes near it.
    if (n >= Math.floor(0xffffffff / 20)) throw new RangeError(`randperm: n = ${n} is beyond the ${Math.floor(0xffffffff / 20)} rows this generator reproduces`);
    const r = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < n - 1; i++) {
      const z = this.random() % (n - i);
      const t = r[i]!;
      r[i] = r[z + i]!;
      r[z + i] = t;
    }
    return r;
  }
}
