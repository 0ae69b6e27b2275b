//! The arithmetic of one scored token: KL(reference ‖ quant) over the whole
//! vocabulary, top-token agreement and Δp, from two rows of logits.
//!
//! With llama-perplexity's log-softmax (row maximum subtracted, `exp` in
//! `f32`, sums in `f64`),
//! `KL = Σᵢ e^(xᵢ−mx)(xᵢ − yᵢ) / Σᵢ e^(xᵢ−mx) + lse(y) − lse(x)` for
//! reference logits `x` and quantization logits `y`, where
//! `lse(v) = max(v) + ln Σ e^(v−max(v))`: one `exp` per vocabulary entry and
//! model, no division or logarithm per entry.
//!
//! A row of Gemma 3's 262,144 logits is 1 MiB, so a window's rows live in
//! main memory, not in cache; the cost of a token is reading its two rows.
//! [`token_fidelity`] reads each row once: it walks both rows in blocks small
//! enough for the L1 cache, takes a block's maxima first (from memory), then
//! its sums (from L1), and rescales what it has summed so far when a block
//! raises a row's maximum (the "online softmax"; a handful of times per row).
//! The loops are written over fixed-width lane arrays so that they vectorize,
//! and compiled three times (AVX-512, AVX2 + FMA, the build's baseline), the
//! widest this CPU has being picked at run time: eval targets that `cargo
//! eval` builds are compiled for the CPU anyway, but the library does not
//! rely on it (on the x86-64 baseline, SSE2, `floor` alone is a library call
//! per entry).
//!
//! The reference's log-sum-exp is not kept across quantizations: its
//! probabilities `e^(x−lse(x))` need one `exp` (or one more 1 MiB read, were
//! they stored) per entry and quantization either way, and the pass that sums
//! them sums `e^(x−mx)` as well at no extra cost.

use litmus_core::run::fidelity::TokenFidelity;

/// Entries per block: a block of both rows (2 × 16 KiB) stays in L1 between
/// the pass for its maxima and the pass for its sums.
const BLOCK: usize = 4096;

/// What one pass over a pair of rows gathers.
#[derive(Clone, Copy, Debug, PartialEq)]
struct RowPair {
    /// First index of the largest reference logit, and its value.
    top_x: usize,
    max_x: f32,
    /// The same for the quantization.
    top_y: usize,
    max_y: f32,
    /// Σ e^(x − max_x).
    s_x: f64,
    /// Σ e^(x − max_x)(x − y).
    s_xy: f64,
    /// Σ e^(y − max_y).
    s_y: f64,
}

/// `a·b + c`, fused where the pass is compiled with FMA (a plain
/// `mul_add` without it is a library call).
#[inline(always)]
fn mad<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `e^x` for `x ≤ 0` in `f32` (Cephes' `expf`: range reduction by ln 2 and a
/// degree-6 polynomial, about 1 ulp), written so that it vectorizes.
#[inline(always)]
pub(crate) fn exp_neg<const FMA: bool>(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const C1: f32 = 0.693_359_4;
    const C2: f32 = -2.121_944_4e-4;
    // Not `f32::max`: its NaN rule costs a blend per vector. NaN fails the
    // comparison and becomes −87 too, which keeps `n` in range below.
    let x = if x >= -87.0 { x } else { -87.0 };
    let n = mad::<FMA>(x, LOG2E, 0.5).floor();
    let r = mad::<FMA>(-n, C2, mad::<FMA>(-n, C1, x));
    let z = r * r;
    let mut p = 1.987_569_1e-4;
    for c in [
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        0.5,
    ] {
        p = mad::<FMA>(p, r, c);
    }
    let y = mad::<FMA>(p, z, r + 1.0);
    // SAFETY: `n` is a whole number in [−126, 1] (x is in [−87, 0]), so it
    // converts exactly; the unchecked conversion vectorizes, `as` (which
    // saturates and maps NaN to 0) does not.
    let n = unsafe { n.to_int_unchecked::<i32>() };
    y * f32::from_bits(((n + 127) << 23) as u32)
}

/// One vocabulary entry's terms: `e^(x−mx)`, `e^(x−mx)(x − y)` and
/// `e^(y−my)`. An entry more than 87 below its row's maximum, −∞ (a masked
/// token) or NaN weighs e^−87 in its row (`exp_neg`'s floor: a 2^−125 share
/// of a sum whose largest entry weighs 1, so nothing in any figure), and a
/// reference entry of that kind adds nothing to the KL sum whatever the
/// quantization's entry is (−∞ − −∞ would be NaN). One compare and one
/// select per entry: masking all three terms cost 5–8% more per row.
#[inline(always)]
fn terms<const FMA: bool>(x: f32, y: f32, mx: f32, my: f32) -> (f32, f32, f32) {
    let dx = x - mx;
    let ex = exp_neg::<FMA>(dx);
    let txy = if dx >= -87.0 { ex * (x - y) } else { 0.0 };
    (ex, txy, exp_neg::<FMA>(y - my))
}

/// The largest value of `v` (−∞ for none), in `L` lanes.
#[inline(always)]
fn max_of<const L: usize>(v: &[f32]) -> f32 {
    let mut m = [f32::NEG_INFINITY; L];
    let chunks = v.chunks_exact(L);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..L {
            m[k] = if c[k] > m[k] { c[k] } else { m[k] };
        }
    }
    let mut best = f32::NEG_INFINITY;
    for &v in m.iter().chain(rest) {
        if v > best {
            best = v;
        }
    }
    best
}

/// One pass over `x` and `y` (the same length), in `L` lanes.
#[inline(always)]
fn row_pair<const L: usize, const FMA: bool>(x: &[f32], y: &[f32]) -> RowPair {
    let mut p = RowPair {
        top_x: 0,
        max_x: f32::NEG_INFINITY,
        top_y: 0,
        max_y: f32::NEG_INFINITY,
        s_x: 0.0,
        s_xy: 0.0,
        s_y: 0.0,
    };
    for (b, (bx, by)) in x.chunks(BLOCK).zip(y.chunks(BLOCK)).enumerate() {
        let base = b * BLOCK;
        // A block that raises a maximum: what was summed against the old
        // one is scaled to the new one (by 0 on the first block).
        let mx = max_of::<L>(bx);
        if mx > p.max_x {
            let scale = (f64::from(p.max_x) - f64::from(mx)).exp();
            p.s_x *= scale;
            p.s_xy *= scale;
            p.max_x = mx;
            p.top_x = base + bx.iter().position(|&v| v == mx).unwrap_or(0);
        }
        let my = max_of::<L>(by);
        if my > p.max_y {
            p.s_y *= (f64::from(p.max_y) - f64::from(my)).exp();
            p.max_y = my;
            p.top_y = base + by.iter().position(|&v| v == my).unwrap_or(0);
        }
        let (mx, my) = (p.max_x, p.max_y);
        let mut sx = [0f64; L];
        let mut sxy = [0f64; L];
        let mut sy = [0f64; L];
        let cx = bx.chunks_exact(L);
        let cy = by.chunks_exact(L);
        let (rx, ry) = (cx.remainder(), cy.remainder());
        // Terms in f32 (as llama-perplexity's), sums in f64.
        for (cx, cy) in cx.zip(cy) {
            for k in 0..L {
                let (tx, txy, ty) = terms::<FMA>(cx[k], cy[k], mx, my);
                sx[k] += f64::from(tx);
                sxy[k] += f64::from(txy);
                sy[k] += f64::from(ty);
            }
        }
        for (&xv, &yv) in rx.iter().zip(ry) {
            let (tx, txy, ty) = terms::<FMA>(xv, yv, mx, my);
            sx[0] += f64::from(tx);
            sxy[0] += f64::from(txy);
            sy[0] += f64::from(ty);
        }
        p.s_x += sx.iter().sum::<f64>();
        p.s_xy += sxy.iter().sum::<f64>();
        p.s_y += sy.iter().sum::<f64>();
    }
    p
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
fn row_pair_avx512(x: &[f32], y: &[f32]) -> RowPair {
    row_pair::<16, true>(x, y)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn row_pair_avx2(x: &[f32], y: &[f32]) -> RowPair {
    row_pair::<16, true>(x, y)
}

/// Which compilation of the pass this CPU runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512 (F, DQ, VL).
    Avx512,
    /// AVX2 and FMA.
    Avx2,
    /// The build's baseline.
    Baseline,
}

impl Isa {
    /// The widest this CPU has (cached by `std`'s feature detection).
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512dq")
                && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Isa::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Isa::Avx2;
            }
        }
        Isa::Baseline
    }
}

fn pass(x: &[f32], y: &[f32], isa: Isa) -> RowPair {
    let n = x.len().min(y.len());
    let (x, y) = (&x[..n], &y[..n]);
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::detect` saw these features on this CPU (and only
        // `detect` or a test that checked it makes the other variants).
        Isa::Avx512 if Isa::detect() == Isa::Avx512 => unsafe { row_pair_avx512(x, y) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above; AVX-512 CPUs have AVX2 and FMA too.
        Isa::Avx512 | Isa::Avx2 if Isa::detect() != Isa::Baseline => unsafe { row_pair_avx2(x, y) },
        _ => row_pair::<16, false>(x, y),
    }
}

/// One scored token: reference logits `x`, quantization logits `y`, the
/// token that follows `t`; with the widest instructions this CPU has.
pub fn token_fidelity(x: &[f32], y: &[f32], t: usize) -> TokenFidelity {
    token_fidelity_with(x, y, t, Isa::detect())
}

/// [`token_fidelity`] with the pass compiled for `isa` (or a narrower one,
/// if this CPU lacks it).
pub fn token_fidelity_with(x: &[f32], y: &[f32], t: usize, isa: Isa) -> TokenFidelity {
    let p = pass(x, y, isa);
    let lse_x = f64::from(p.max_x) + p.s_x.ln();
    let lse_y = f64::from(p.max_y) + p.s_y.ln();
    let kld = p.s_xy / p.s_x + lse_y - lse_x;
    let nll_ref = lse_x - f64::from(x[t]);
    let nll = lse_y - f64::from(y[t]);
    TokenFidelity {
        kld,
        p_diff: (-nll).exp() - (-nll_ref).exp(),
        same_top: p.top_x == p.top_y,
        nll,
        nll_ref,
    }
}

/// The largest value and its first index.
pub(crate) fn argmax(v: &[f32]) -> (usize, f32) {
    let mut best = (0, v[0]);
    for (i, &x) in v.iter().enumerate().skip(1) {
        if x > best.1 {
            best = (i, x);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// KL, top agreement and Δp, computed the slow way in f64.
    fn naive(x: &[f32], y: &[f32], t: usize) -> (f64, bool, f64) {
        let lsm = |v: &[f32]| {
            let m = v.iter().fold(f64::MIN, |a, &b| a.max(f64::from(b)));
            let s: f64 = v.iter().map(|&b| (f64::from(b) - m).exp()).sum();
            v.iter()
                .map(|&b| f64::from(b) - m - s.ln())
                .collect::<Vec<_>>()
        };
        let (lx, ly) = (lsm(x), lsm(y));
        let kl = lx
            .iter()
            .zip(&ly)
            .map(|(a, b)| a.exp() * (a - b))
            .sum::<f64>();
        (kl, argmax(x).0 == argmax(y).0, ly[t].exp() - lx[t].exp())
    }

    fn rows(n: usize, seed: u64, rising: bool) -> (Vec<f32>, Vec<f32>) {
        let mut seed = seed;
        let mut rnd = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as f64 / (1u64 << 31) as f64) as f32
        };
        // `rising`: the maximum grows along the row, so that every block
        // raises it (the rescaling path); else uniform noise.
        let x: Vec<f32> = (0..n)
            .map(|i| {
                let drift = if rising {
                    20.0 * i as f32 / n as f32
                } else {
                    0.0
                };
                rnd() * 12.0 - 6.0 + drift
            })
            .collect();
        let y: Vec<f32> = x.iter().map(|&v| v + (rnd() - 0.5) * 1.5).collect();
        (x, y)
    }

    #[test]
    fn exp_is_accurate() {
        for i in 0..2000 {
            let x = -(i as f32) * 0.043;
            let (a, b) = (exp_neg::<false>(x), x.exp());
            assert!(((a - b) / b).abs() < 3e-7 || b < 1e-37, "{x}: {a} vs {b}");
            let a = exp_neg::<true>(x);
            assert!(((a - b) / b).abs() < 3e-7 || b < 1e-37, "{x}: {a} vs {b}");
        }
        assert_eq!(exp_neg::<false>(0.0), 1.0);
    }

    #[test]
    fn token_fidelity_matches_the_definition_on_every_isa() {
        let isas = [Isa::Avx512, Isa::Avx2, Isa::Baseline];
        for (n, rising) in [
            (5usize, false),
            (17, false),
            (1000, false),
            (4099, false),
            (3 * BLOCK + 77, true),
            (3 * BLOCK + 77, false),
        ] {
            let (x, y) = rows(n, n as u64 + 7, rising);
            let t = n / 3;
            let (kl, same, pd) = naive(&x, &y, t);
            for isa in isas {
                let f = token_fidelity_with(&x, &y, t, isa);
                assert!(
                    (f.kld - kl).abs() < 1e-6 * kl.max(1e-2),
                    "{n} {isa:?}: {} vs {kl}",
                    f.kld
                );
                assert_eq!(f.same_top, same);
                assert!((f.p_diff - pd).abs() < 1e-6);
                // A model against itself.
                let z = token_fidelity_with(&x, &x, t, isa);
                assert!(z.kld.abs() < 1e-9 && z.same_top && z.p_diff == 0.0);
            }
        }
    }

    /// Masked entries (−∞ logits, as a grammar or a logit bias gives) weigh
    /// nothing, even when both models mask them (−∞ − −∞ was a NaN KL for a
    /// model against itself); a NaN logit cannot reach the unchecked
    /// conversion in `exp_neg` and makes the token's KL NaN, which the sums
    /// count apart (found by review).
    #[test]
    fn masked_entries_weigh_nothing_and_nan_stays_visible() {
        let n = BLOCK + 40;
        let (mut x, mut y) = rows(n, 3, false);
        let masked = [1usize, 17, BLOCK + 5];
        for &i in &masked {
            x[i] = f32::NEG_INFINITY;
            y[i] = f32::NEG_INFINITY;
        }
        let keep: Vec<usize> = (0..n).filter(|i| !masked.contains(i)).collect();
        let (kx, ky): (Vec<f32>, Vec<f32>) = keep.iter().map(|&i| (x[i], y[i])).unzip();
        let (kl, _, _) = naive(&kx, &ky, 0);
        for isa in [Isa::Avx512, Isa::Avx2, Isa::Baseline] {
            let f = token_fidelity_with(&x, &y, 0, isa);
            assert!(
                (f.kld - kl).abs() < 1e-6 * kl.max(1e-2),
                "{isa:?}: {} vs {kl}",
                f.kld
            );
            let z = token_fidelity_with(&x, &x, 0, isa);
            assert!(z.kld.abs() < 1e-9 && z.same_top, "{isa:?}: {z:?}");
            // Masked in the quantization alone: a token the reference finds
            // possible is impossible, the KL infinite.
            let mut yq = y.clone();
            yq[5] = f32::NEG_INFINITY;
            assert_eq!(
                token_fidelity_with(&x, &yq, 0, isa).kld,
                f64::INFINITY,
                "{isa:?}"
            );
            yq[5] = f32::NAN;
            assert!(token_fidelity_with(&x, &yq, 0, isa).kld.is_nan(), "{isa:?}");
        }
        for v in [f32::NAN, f32::NEG_INFINITY, -1e30] {
            assert!(exp_neg::<false>(v) > 0.0 && exp_neg::<true>(v) < 1e-37);
        }
    }

    #[test]
    fn the_top_is_the_first_largest_across_blocks() {
        let n = 2 * BLOCK + 10;
        let mut x = vec![0.0f32; n];
        let mut y = vec![0.0f32; n];
        // Ties: the first index wins, as llama-perplexity's argmax does.
        x[BLOCK + 3] = 5.0;
        x[2 * BLOCK + 1] = 5.0;
        y[7] = 5.0;
        y[BLOCK + 3] = 5.0;
        for isa in [Isa::Avx512, Isa::Avx2, Isa::Baseline] {
            let p = pass(&x, &y, isa);
            assert_eq!((p.top_x, p.top_y), (BLOCK + 3, 7), "{isa:?}");
        }
        assert_eq!(argmax(&x).0, BLOCK + 3);
    }
}
