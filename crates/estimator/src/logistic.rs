//! Fused passes for the logistic (Bradley–Terry) loss `Σ w_i log(1 + exp(−θ'x_i))` over signed
//! rows `x_i = sign(y_i) z_i`: the kernels of `bt`'s `subsampled` solver.
//!
//! [`loss_grad_hessian`]: one pass gives the loss, the gradient, the counts of rows with margin
//! ≤ 0 and of all-zero rows (one polynomial exponential and log1p per row, vectorised over
//! blocks of rows), and optionally `Σ c_i z_i z_i'` (`c_i = w_i p_i (1 − p_i)`) over every
//! s-th row, packed while the rows are in cache and accumulated by register tiles.
//!
//! Chunks of rows ([`crate::par::CHUNK`]) are reduced in chunk order, so results are
//! bit-identical for any thread count. Each kernel has vector builds picked at run time
//! (AVX2+FMA) and a portable one, both doing the same fused
//! multiply–adds in the same order, so the bits do not depend on the CPU either (tested).

use crate::numeric::{Any, Width, by_width};
use crate::par::{CHUNK, PAR_MIN_ROWS};
use rayon::prelude::*;

/// Comparisons as the solver reads them: features `z` (row-major n×d), labels `y` (the
/// signed row is `x_i = sign(y_i) z_i`, never materialised: negation is exact, so margins,
/// gradients and Hessians are the same bits as from a copy) and optional weights.
#[derive(Clone, Copy)]
pub struct Rows<'a> {
    pub z: &'a [f64],
    pub y: &'a [f64],
    pub w: Option<&'a [f64]>,
    pub d: usize,
}

impl Rows<'_> {
    pub fn n(&self) -> usize {
        self.y.len()
    }
}

/// What one pass returns (no ridge term).
pub struct LossGrad {
    pub loss: f64,
    pub grad: Vec<f64>,
    /// Rows with margin ≤ 0 (all-zero rows included).
    pub nonpositive: usize,
    /// Rows whose features are all zero (their margin is 0 at every θ).
    pub zero_rows: usize,
}

/// Rows per block of the pass: margins, then the logistic functions across the block (a loop
/// the compiler vectorises), then the gradient.
pub const PASS_BLOCK: usize = 16;

/// Loss, gradient and counts at θ, and with `hess_stride = Some(s)` also the pair (H, W_S):
/// `H = Σ_{i ∈ S} c_i z_i z_i'` (dense d×d, symmetric) over `S = {i : i mod s = 0}` and
/// `W_S = Σ_{i ∈ S} w_i` (signs cancel in `x_i x_i'`).
pub fn loss_grad_hessian(
    rows: Rows<'_>,
    theta: &[f64],
    hess_stride: Option<usize>,
) -> (LossGrad, Option<(Vec<f64>, f64)>) {
    let n = rows.n();
    let fma = has_fma();
    let at_zero = theta.iter().all(|t| *t == 0.0);
    debug_assert_eq!(theta.len(), rows.d);
    let chunk = |c: usize| -> ChunkOut {
        let start = c * CHUNK;
        let job = Job {
            rows,
            theta,
            start,
            end: (start + CHUNK).min(n),
            at_zero,
            hess_stride,
        };
        #[cfg(target_arch = "x86_64")]
        if fma {
            // SAFETY: the CPU has AVX2 and FMA (checked by `has_fma`).
            return unsafe { run_chunk_fma(job) };
        }
        let _ = fma;
        run_chunk(job)
    };
    let chunks = n.div_ceil(CHUNK);
    let partials: Vec<ChunkOut> = if n >= PAR_MIN_ROWS {
        (0..chunks).into_par_iter().map(chunk).collect()
    } else {
        (0..chunks).map(chunk).collect()
    };
    let mut hessians = Vec::new();
    let mut it = partials.into_iter();
    let first = it.next().expect("n > 0");
    let (mut loss, mut grad, mut nonpositive, mut zero_rows) =
        (first.loss, first.grad, first.nonpositive, first.zero_rows);
    hessians.extend(first.hessian);
    for c in it {
        loss += c.loss;
        for (a, b) in grad.iter_mut().zip(c.grad) {
            *a += b;
        }
        nonpositive += c.nonpositive;
        zero_rows += c.zero_rows;
        hessians.extend(c.hessian);
    }
    let h = hess_stride.map(|_| reduce_hessians(hessians, rows.d));
    (
        LossGrad {
            loss,
            grad,
            nonpositive,
            zero_rows,
        },
        h,
    )
}

/// One chunk's share of a pass.
#[derive(Clone, Copy)]
struct Job<'a> {
    rows: Rows<'a>,
    theta: &'a [f64],
    start: usize,
    end: usize,
    at_zero: bool,
    hess_stride: Option<usize>,
}

struct ChunkOut {
    loss: f64,
    grad: Vec<f64>,
    nonpositive: usize,
    zero_rows: usize,
    hessian: Option<(Vec<f64>, f64)>,
}

/// AVX2 and FMA present (x86-64), so the `_fma` kernels may run.
fn has_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_chunk_fma(job: Job<'_>) -> ChunkOut {
    run_chunk(job)
}

#[inline(always)]
fn run_chunk(job: Job<'_>) -> ChunkOut {
    let Job {
        rows,
        theta,
        start,
        end,
        at_zero,
        hess_stride,
    } = job;
    let d = rows.d;
    let mut grad = vec![0.0; d];
    let z = &rows.z[start * d..end * d];
    let (y, w) = (&rows.y[start..end], rows.w.map(|w| &w[start..end]));
    let mut packer = hess_stride.map(|s| {
        let s = s.max(1);
        (Packer::new(d), s, start.div_ceil(s) * s - start)
    });
    let pk = packer.as_mut();
    // Below d = 17 the row loops cost more than their arithmetic unless d is a constant the
    // compiler can unroll: one copy of the pass per such d (the same operations in the same
    // order as the general copy, so the same bits; tested).
    let (loss, nonpositive, zero_rows) = if at_zero {
        pass_chunk::<true, _>(Any(d), z, y, w, theta, &mut grad, pk)
    } else {
        by_width!(d, wd => pass_chunk::<false, _>(wd, z, y, w, theta, &mut grad, pk))
    };
    ChunkOut {
        loss,
        grad,
        nonpositive,
        zero_rows,
        hessian: packer.map(|(p, _, _)| p.finish()),
    }
}

/// One chunk of a pass over its own rows (`z`, `y`, `w` start at the chunk's first
/// row): adds the gradient into `grad` and returns (loss, non-positive rows, zero rows).
/// Every slice is a separate argument so the compiler knows `grad` aliases none of them.
/// `AT_ZERO` (θ = 0): every margin is 0, so each row's loss is ln 2, its probability of the
/// wrong sign 1/2 and its curvature weight w/4 with no exponential (the general code gives
/// the same values, up to the last bit of ln 2).
#[inline(always)]
fn pass_chunk<const AT_ZERO: bool, W: Width>(
    width: W,
    z: &[f64],
    y: &[f64],
    w: Option<&[f64]>,
    theta: &[f64],
    grad: &mut [f64],
    mut packer: Option<&mut (Packer, usize, usize)>,
) -> (f64, usize, usize) {
    let (d, end) = (width.d(), y.len());
    debug_assert_eq!(d, theta.len());
    let theta = &theta[..d];
    let mut loss = 0.0;
    let (mut nonpositive, mut zero_rows) = (0usize, 0usize);
    let mut m = [0.0f64; PASS_BLOCK];
    let mut sg = [0.0f64; PASS_BLOCK];
    let mut wv = [0.0f64; PASS_BLOCK];
    let mut l = [0.0f64; PASS_BLOCK];
    let mut coef = [0.0f64; PASS_BLOCK];
    let mut cv = [0.0f64; PASS_BLOCK];
    let mut b0 = 0;
    while b0 < end {
        let b1 = (b0 + PASS_BLOCK).min(end);
        let k = b1 - b0;
        let zb = &z[b0 * d..b1 * d];
        let yb = &y[b0..b1];
        match w {
            Some(w) => wv[..k].copy_from_slice(&w[b0..b1]),
            None => wv[..k].fill(1.0),
        }
        for r in 0..k {
            sg[r] = if yb[r] < 0.0 { -1.0 } else { 1.0 };
        }
        if !AT_ZERO {
            for (r, zi) in zb.chunks_exact(d).enumerate() {
                m[r] = sg[r] * dot_fma(zi, theta);
            }
        }
        // Over the whole block: the entries past a short last block hold the previous
        // block's margins (or 0), whose results are not used.
        let (lb, pb) = if AT_ZERO {
            ([std::f64::consts::LN_2; PASS_BLOCK], [0.5; PASS_BLOCK])
        } else {
            logistic_block(&m)
        };
        for r in 0..PASS_BLOCK {
            l[r] = wv[r] * lb[r];
            coef[r] = -wv[r] * pb[r] * sg[r];
            cv[r] = wv[r] * pb[r] * (1.0 - pb[r]);
        }
        // The loss alone first: a loop of k adds the compiler keeps in a register (fused
        // with the counts below, the running sum went through the stack, a store-to-load
        // delay on every row). The same order, so the same bits.
        let mut block_loss = loss;
        for lr in &l[..k] {
            block_loss += lr;
        }
        loss = block_loss;
        for r in 0..k {
            nonpositive += usize::from(m[r] <= 0.0);
            if m[r] == 0.0 && zb[r * d..(r + 1) * d].iter().all(|v| *v == 0.0) {
                zero_rows += 1;
            }
        }
        // grad += Σ_r coef_r z_r, four columns at a time held in registers over the block's
        // rows (each entry still sums the rows in order).
        let mut j = 0;
        while j + 4 <= d {
            let mut acc: [f64; 4] = grad[j..j + 4].try_into().unwrap();
            for (zi, c) in zb.chunks_exact(d).zip(&coef[..k]) {
                let zz: &[f64; 4] = zi[j..j + 4].try_into().unwrap();
                for q in 0..4 {
                    acc[q] = c.mul_add(zz[q], acc[q]);
                }
            }
            grad[j..j + 4].copy_from_slice(&acc);
            j += 4;
        }
        for jj in j..d {
            let mut a = grad[jj];
            for (zi, c) in zb.chunks_exact(d).zip(&coef[..k]) {
                a = c.mul_add(zi[jj], a);
            }
            grad[jj] = a;
        }
        // The sampled rows (chunk offset `next`, then every `stride`-th) of this block, while
        // they are in cache.
        if let Some((pk, stride, next)) = packer.as_deref_mut() {
            while *next < b1 {
                let r = *next - b0;
                pk.push(&zb[r * d..(r + 1) * d], cv[r], wv[r]);
                *next += *stride;
            }
        }
        b0 = b1;
    }
    (loss, nonpositive, zero_rows)
}

/// Inner product in 8 fused multiply–add lanes (4 below d = 16), then the lanes pairwise:
/// a fixed order for each d.
#[inline(always)]
fn dot_fma(a: &[f64], b: &[f64]) -> f64 {
    if a.len() < 16 {
        dot_fma_lanes::<4>(a, b)
    } else {
        dot_fma_lanes::<8>(a, b)
    }
}

#[inline(always)]
fn dot_fma_lanes<const L: usize>(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; L];
    let (ca, cb) = (a.chunks_exact(L), b.chunks_exact(L));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        let x: &[f64; L] = x.try_into().unwrap();
        let y: &[f64; L] = y.try_into().unwrap();
        for k in 0..L {
            acc[k] = x[k].mul_add(y[k], acc[k]);
        }
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        tail = x.mul_add(*y, tail);
    }
    // Lane k + w/2 into lane k, halving w until one lane is left.
    let mut w = L;
    while w > 1 {
        w /= 2;
        for k in 0..w {
            acc[k] += acc[k + w];
        }
    }
    acc[0] + tail
}

/// `(log(1 + e^−m), 1/(1 + e^m))`: the logistic loss of margin m and the probability of the
/// wrong sign, from one [`exp_nonpositive`] and one [`log1p_unit`]; within a few ulp of
/// `numeric::logistic_loss_and_wrong_prob` (tested). The pass uses [`logistic_block`], the
/// same operations over a block of rows (the same bits).
#[inline(always)]
pub fn logistic(m: f64) -> (f64, f64) {
    let e = exp_nonpositive(-m.abs());
    let q = 1.0 / (1.0 + e);
    let p = if m >= 0.0 { e * q } else { q };
    ((-m).max(0.0) + log1p_unit(e), p)
}

/// [`logistic`] over a block of margins, each polynomial step taken for every row before the
/// next, so the rows' independent chains fill the vector units (a row-at-a-time loop is
/// bound by the latency of its 31 dependent multiply–adds).
#[inline(always)]
pub fn logistic_block(m: &[f64; PASS_BLOCK]) -> ([f64; PASS_BLOCK], [f64; PASS_BLOCK]) {
    const B: usize = PASS_BLOCK;
    let mut x = [0.0f64; B];
    let mut t = [0.0f64; B];
    let mut r = [0.0f64; B];
    for k in 0..B {
        let v = -m[k].abs();
        x[k] = if v < -708.0 { -708.0 } else { v };
        t[k] = x[k].mul_add(std::f64::consts::LOG2_E, EXP_MAGIC);
        let kf = t[k] - EXP_MAGIC;
        r[k] = (-kf).mul_add(LN2_LO, (-kf).mul_add(LN2_HI, x[k]));
    }
    let mut e = [EXP_C[0]; B];
    for c in &EXP_C[1..] {
        for k in 0..B {
            e[k] = e[k].mul_add(r[k], *c);
        }
    }
    let mut s = [0.0f64; B];
    let mut s2 = [0.0f64; B];
    let mut p = [0.0f64; B];
    for k in 0..B {
        let kk = (t[k].to_bits() as i64).wrapping_sub(EXP_MAGIC.to_bits() as i64);
        e[k] *= f64::from_bits(((kk + 1023) as u64) << 52);
        s[k] = e[k] / (2.0 + e[k]);
        s2[k] = s[k] * s[k];
        let q = 1.0 / (1.0 + e[k]);
        p[k] = if m[k] >= 0.0 { e[k] * q } else { q };
    }
    let mut q = [LOG1P_C[0]; B];
    for c in &LOG1P_C[1..] {
        for k in 0..B {
            q[k] = q[k].mul_add(s2[k], *c);
        }
    }
    let mut loss = [0.0f64; B];
    for k in 0..B {
        loss[k] = (-m[k]).max(0.0) + 2.0 * s[k] * q[k];
    }
    (loss, p)
}

const EXP_MAGIC: f64 = 6_755_399_441_055_744.0; // 1.5·2^52: adding it rounds to an integer
/// ln 2 split: a high part with 32 trailing zero bits (so k·LN2_HI is exact for |k| < 2^20)
/// and the rest (fdlibm's constants).
const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76);
/// 1/j! for j = 13, 12, ..., 0.
const EXP_C: [f64; 14] = [
    1.0 / 6_227_020_800.0,
    1.0 / 479_001_600.0,
    1.0 / 39_916_800.0,
    1.0 / 3_628_800.0,
    1.0 / 362_880.0,
    1.0 / 40_320.0,
    1.0 / 5_040.0,
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    0.5,
    1.0,
    1.0,
];
/// 1/(2j + 1) for j = 18, 17, ..., 0.
const LOG1P_C: [f64; 19] = [
    1.0 / 37.0,
    1.0 / 35.0,
    1.0 / 33.0,
    1.0 / 31.0,
    1.0 / 29.0,
    1.0 / 27.0,
    1.0 / 25.0,
    1.0 / 23.0,
    1.0 / 21.0,
    1.0 / 19.0,
    1.0 / 17.0,
    1.0 / 15.0,
    1.0 / 13.0,
    1.0 / 11.0,
    1.0 / 9.0,
    1.0 / 7.0,
    1.0 / 5.0,
    1.0 / 3.0,
    1.0,
];

/// e^x for x ≤ 0 (x below −708 is taken as −708: e^−708 ≈ 3e−308 stands in for anything
/// smaller), branch-free: x = k ln 2 + r with |r| ≤ ln 2 / 2, e^r by its Taylor polynomial of
/// degree 13 (truncation below 4e−18), 2^k from the exponent bits.
#[inline(always)]
pub fn exp_nonpositive(x: f64) -> f64 {
    let x = if x < -708.0 { -708.0 } else { x };
    let t = x.mul_add(std::f64::consts::LOG2_E, EXP_MAGIC);
    let kf = t - EXP_MAGIC;
    let r = (-kf).mul_add(LN2_LO, (-kf).mul_add(LN2_HI, x));
    let mut p = EXP_C[0];
    for c in &EXP_C[1..] {
        p = p.mul_add(r, *c);
    }
    let k = (t.to_bits() as i64).wrapping_sub(EXP_MAGIC.to_bits() as i64);
    p * f64::from_bits(((k + 1023) as u64) << 52)
}

/// log(1 + e) for e in [0, 1], branch-free: 2 atanh(s) with s = e/(2 + e) ≤ 1/3, summed to
/// s^37 (truncation below 2e−18 relative).
#[inline(always)]
pub fn log1p_unit(e: f64) -> f64 {
    let s = e / (2.0 + e);
    let s2 = s * s;
    let mut q = LOG1P_C[0];
    for c in &LOG1P_C[1..] {
        q = q.mul_add(s2, *c);
    }
    2.0 * s * q
}

/// Rows per block of the Hessian kernel: its two packed panels (2·BLOCK·d·8 bytes) stay in
/// L1 up to d ≈ 60. (Chosen by timing blocks of 16 to 128 rows.)
const BLOCK: usize = 32;

/// Folds per-chunk padded Hessians (in chunk order) and mirrors the upper triangle the tiles
/// cover into a dense symmetric d×d matrix.
fn reduce_hessians(partials: Vec<(Vec<f64>, f64)>, d: usize) -> (Vec<f64>, f64) {
    let dp = d.div_ceil(8) * 8;
    let mut it = partials.into_iter();
    let (mut hp, mut ws) = it.next().expect("n > 0");
    for (h, w) in it {
        for (a, b) in hp.iter_mut().zip(h) {
            *a += b;
        }
        ws += w;
    }
    let mut h = vec![0.0; d * d];
    for a in 0..d {
        for b in a..d {
            let v = hp[a * dp + b];
            h[a * d + b] = v;
            h[b * d + a] = v;
        }
    }
    (h, ws)
}

/// One chunk's Hessian accumulator: rows are pushed in order, packed into the two panels,
/// and every [`BLOCK`] rows (and at the end) the register tiles add them into the padded h.
/// The pass ([`loss_grad_hessian`]) pushes its sampled rows into one per chunk.
struct Packer {
    d: usize,
    dp: usize,
    h: Vec<f64>,
    up: Vec<f64>,
    xp: Vec<f64>,
    ws: f64,
    k: usize,
}

impl Packer {
    fn new(d: usize) -> Self {
        let dp = d.div_ceil(8) * 8;
        Packer {
            d,
            dp,
            h: vec![0.0; dp * dp],
            up: vec![0.0; BLOCK * dp],
            xp: vec![0.0; BLOCK * dp],
            ws: 0.0,
            k: 0,
        }
    }

    /// Adds `c·z z'` (weight `w` to the sample's total).
    #[inline(always)]
    fn push(&mut self, zi: &[f64], ci: f64, wi: f64) {
        let (d, k) = (self.d, self.k);
        self.ws += wi;
        // Full groups as fixed-size copies (no memcpy call per group); the padding columns
        // (j ≥ d) of the last group are never written: they stay 0.
        let full = d / 8;
        for g in 0..full {
            let o = g * BLOCK * 8 + k * 8;
            let zg: &[f64; 8] = zi[g * 8..g * 8 + 8].try_into().unwrap();
            let ug: &mut [f64; 8] = (&mut self.up[o..o + 8]).try_into().unwrap();
            for q in 0..8 {
                ug[q] = ci * zg[q];
            }
            let xg: &mut [f64; 8] = (&mut self.xp[o..o + 8]).try_into().unwrap();
            *xg = *zg;
        }
        let o = full * BLOCK * 8 + k * 8;
        for (q, v) in zi[full * 8..].iter().enumerate() {
            self.up[o + q] = ci * v;
            self.xp[o + q] = *v;
        }
        self.k += 1;
        if self.k == BLOCK {
            block_update(&mut self.h, d, self.dp, &self.up, &self.xp, BLOCK);
            self.k = 0;
        }
    }

    /// The padded h and the sample's weight.
    fn finish(mut self) -> (Vec<f64>, f64) {
        if self.k > 0 {
            // The panels' rows beyond k hold the previous block's values; the tiles read only
            // the first k.
            block_update(&mut self.h, self.d, self.dp, &self.up, &self.xp, self.k);
        }
        (self.h, self.ws)
    }
}

/// `h += Σ_r u_r x_r'` over the first `rows` rows of the packed panels (both in groups of 8
/// columns, each group contiguous over the block's rows), on the upper-triangle 4×8 tiles of
/// the padded dp×dp `h`. Two builds of one computation: every entry starts at 0, takes one
/// fused multiply–add per row in row order and is then added to `h`, so AVX2 and the
/// portable code give the same bits. (An AVX-512 build with 8×8 tiles was no faster here:
/// n = 10^5, d = 50 in 31–34 ms against 33 ms, alternated runs of `bt_speed`; nor were 6×8
/// tiles with 12 accumulators: 141–143 against 131–136 ns per row for the pass with the full
/// Hessian, in cache, n = 1,000, d = 50, stop 32.)
fn block_update(h: &mut [f64], d: usize, dp: usize, up: &[f64], xp: &[f64], rows: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if has_fma() {
            // SAFETY: the CPU has AVX2 and FMA (checked by `has_fma`).
            unsafe { block_update_fma(h, d, dp, up, xp, rows) };
            return;
        }
    }
    block_update_tiles(h, d, dp, up, xp, rows);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn block_update_fma(
    h: &mut [f64],
    d: usize,
    dp: usize,
    up: &[f64],
    xp: &[f64],
    rows: usize,
) {
    block_update_tiles(h, d, dp, up, xp, rows);
}

/// 4×8 tiles (8 accumulators of 4 lanes under AVX2).
#[inline(always)]
fn block_update_tiles(h: &mut [f64], d: usize, dp: usize, up: &[f64], xp: &[f64], rows: usize) {
    let mut a0 = 0;
    while a0 < d {
        let upanel = &up[(a0 / 8) * BLOCK * 8..][..rows * 8];
        let off = a0 % 8;
        let mut b0 = a0 / 8 * 8;
        while b0 < d {
            let xpanel = &xp[(b0 / 8) * BLOCK * 8..][..rows * 8];
            let mut acc = [[0.0f64; 8]; 4];
            for (ur, xr) in upanel.chunks_exact(8).zip(xpanel.chunks_exact(8)) {
                let ur: &[f64; 4] = ur[off..off + 4].try_into().unwrap();
                let xr: &[f64; 8] = xr.try_into().unwrap();
                for k in 0..4 {
                    let s = ur[k];
                    for l in 0..8 {
                        acc[k][l] = s.mul_add(xr[l], acc[k][l]);
                    }
                }
            }
            for (k, row) in acc.iter().enumerate() {
                let o = (a0 + k) * dp + b0;
                for (hv, v) in h[o..o + 8].iter_mut().zip(row) {
                    *hv += v;
                }
            }
            b0 += 8;
        }
        a0 += 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numeric::logistic_loss_and_wrong_prob;

    /// A fixed, irregular pattern (no RNG needed): features of mixed sign and scale, labels
    /// of both signs, weights 0.5, 1.5, 2.5.
    fn rows_of(n: usize, d: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let z: Vec<f64> = (0..n * d)
            .map(|k| ((k * 7919 % 1013) as f64 / 1013.0 - 0.45) * (1.0 + (k % 5) as f64))
            .collect();
        let y: Vec<f64> = (0..n)
            .map(|i| if i % 3 == 1 { -1.0 } else { 1.0 })
            .collect();
        let w: Vec<f64> = (0..n).map(|i| 0.5 + (i % 3) as f64).collect();
        (z, y, w)
    }

    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    /// The polynomial exp and log1p against the standard library, over a grid that covers
    /// both ends of each range: within 4 ulp. (Written first with 2 ulp; the measured worst
    /// case is 1 ulp for exp and 3 for log1p, whose final `2·s·q` adds two roundings to
    /// the Horner sum's. Either is far below what the solver needs: the loss only orders
    /// trial points whose difference exceeds its summation noise.)
    #[test]
    fn exp_and_log1p_are_within_four_ulp_of_std() {
        let mut worst = (0, 0);
        for k in 0..=200_000 {
            let x = -708.0 * (k as f64 / 200_000.0).powi(3);
            worst.0 = worst.0.max(ulps(exp_nonpositive(x), x.exp()));
            let e = k as f64 / 200_000.0;
            worst.1 = worst.1.max(ulps(log1p_unit(e), e.ln_1p()));
        }
        for e in [1e-300, 1e-30, 1e-17, 1e-9, 0.41421356, 0.999999] {
            worst.1 = worst.1.max(ulps(log1p_unit(e), e.ln_1p()));
        }
        assert!(
            worst.0 <= 4 && worst.1 <= 4,
            "worst ulps (exp, log1p) = {worst:?}"
        );
        // Below −708 the value is e^−708 by design (a stand-in for anything smaller).
        assert_eq!(
            exp_nonpositive(-1e4),
            (-708.0f64).exp().max(exp_nonpositive(-708.0))
        );
    }

    #[test]
    fn the_block_logistic_is_the_scalar_one_bit_for_bit_and_near_the_reference() {
        let mut m = [0.0; PASS_BLOCK];
        for (k, v) in m.iter_mut().enumerate() {
            *v = (k as f64 - 7.5) * 3.7 + if k == 3 { 900.0 } else { 0.0 };
        }
        m[0] = 0.0;
        m[1] = -1e-12;
        let (l, p) = logistic_block(&m);
        for k in 0..PASS_BLOCK {
            let (ls, ps) = logistic(m[k]);
            assert_eq!(
                (l[k].to_bits(), p[k].to_bits()),
                (ls.to_bits(), ps.to_bits()),
                "{}",
                m[k]
            );
            // Relative accuracy of a few ulp, except beyond |m| = 708 where e^−|m| is taken as
            // e^−708 ≈ 3e−308 (an absolute error below 1e−307).
            let (lr, pr) = logistic_loss_and_wrong_prob(m[k]);
            assert!(
                (l[k] - lr).abs() <= 8.0 * f64::EPSILON * lr.abs() + 1e-307,
                "loss at {}",
                m[k]
            );
            assert!(
                (p[k] - pr).abs() <= 8.0 * f64::EPSILON * pr + 1e-307,
                "prob at {}",
                m[k]
            );
        }
    }

    fn rows<'a>(z: &'a [f64], y: &'a [f64], w: &'a [f64], d: usize) -> Rows<'a> {
        Rows {
            z,
            y,
            w: Some(w),
            d,
        }
    }

    #[test]
    fn the_pass_and_its_hessian_match_a_row_by_row_loop() {
        for d in [1, 3, 5, 10, 17, 50] {
            let n = 300;
            let (z, y, w) = rows_of(n, d);
            let r = rows(&z, &y, &w, d);
            let theta: Vec<f64> = (0..d).map(|j| 0.4 - 0.15 * j as f64).collect();
            let (e, h) = loss_grad_hessian(r, &theta, Some(1));
            let (h, _) = h.unwrap();
            let (mut loss, mut grad, mut nonpositive) = (0.0, vec![0.0; d], 0);
            let (mut h_ref, mut h_tol) = (vec![0.0; d * d], vec![0.0; d * d]);
            for i in 0..n {
                let x: Vec<f64> = z[i * d..(i + 1) * d].iter().map(|v| v * y[i]).collect();
                let m: f64 = x.iter().zip(&theta).map(|(a, b)| a * b).sum();
                let (l, p) = logistic_loss_and_wrong_prob(m);
                loss += w[i] * l;
                for j in 0..d {
                    grad[j] -= w[i] * p * x[j];
                }
                nonpositive += usize::from(m <= 0.0);
                // The pass sums the margin in another order (8 fused lanes): its error, at
                // most d·ε·Σ|x_j θ_j|, moves p (and the curvature) by that much relatively;
                // each Hessian entry may move by that times |c z_a z_b|.
                let c = w[i] * p * (1.0 - p);
                let spread: f64 = x.iter().zip(&theta).map(|(a, b)| (a * b).abs()).sum();
                let rel = 1e-13 + d as f64 * f64::EPSILON * spread;
                for a in 0..d {
                    for b in 0..d {
                        let t = c * x[a] * x[b];
                        h_ref[a * d + b] += t;
                        h_tol[a * d + b] += rel * t.abs();
                    }
                }
            }
            for k in 0..d * d {
                assert!(
                    (h[k] - h_ref[k]).abs() <= h_tol[k] + 1e-12 * h_ref[k].abs(),
                    "d {d} Hessian entry {k}: {} vs {}",
                    h[k],
                    h_ref[k]
                );
            }
            assert!(
                (e.loss - loss).abs() <= 1e-12 * loss,
                "d {d}: {} vs {loss}",
                e.loss
            );
            for j in 0..d {
                assert!(
                    (e.grad[j] - grad[j]).abs() <= 1e-11 * (1.0 + grad[j].abs()),
                    "d {d} grad {j}"
                );
            }
            assert_eq!(e.nonpositive, nonpositive);
            assert_eq!(e.zero_rows, 0);
        }
    }

    #[test]
    fn the_pass_at_zero_is_the_general_pass_and_counts_zero_rows() {
        let (n, d) = (100, 6);
        let (mut z, y, w) = rows_of(n, d);
        z[12..18].fill(0.0); // row 2 is all zero
        let r = rows(&z, &y, &w, d);
        let (zero, hz) = loss_grad_hessian(r, &[0.0; 6], Some(1));
        // A margin of −0.0 is not "θ = 0" for the shortcut, so this runs the general code.
        let (general, hg) = loss_grad_hessian(r, &[-0.0, 0.0, 0.0, 0.0, 0.0, 1e-300], Some(1));
        assert_eq!(zero.grad, general.grad);
        assert_eq!(hz, hg, "curvature w/4 in both");
        assert!((zero.loss - general.loss).abs() <= 1e-14 * general.loss);
        assert_eq!((zero.nonpositive, zero.zero_rows), (n, 1));
        assert_eq!(general.zero_rows, 1);
    }

    /// The tiles against a plain triple loop over the same curvature weights (the pass's own
    /// margins through the scalar [`logistic`], which the block version equals bit for bit):
    /// every padding of d, strides that do and do not divide the chunk length, and rows
    /// across chunk boundaries; only the summation order differs (1e-12).
    #[test]
    fn hessian_tiles_equal_the_row_by_row_sum_at_every_padding_and_stride() {
        let cases = [1, 3, 8, 9, 13, 50]
            .map(|d| (300, d, vec![1, 7]))
            .into_iter()
            .chain([(40_000, 13, vec![1, 7, 5000])]);
        for (n, d, strides) in cases {
            let (z, y, w) = rows_of(n, d);
            let r = rows(&z, &y, &w, d);
            let theta: Vec<f64> = (0..d).map(|j| 0.3 - 0.1 * j as f64).collect();
            let curv: Vec<f64> = (0..n)
                .map(|i| {
                    let s = if y[i] < 0.0 { -1.0 } else { 1.0 };
                    let (_, p) = logistic(s * dot_fma(&z[i * d..(i + 1) * d], &theta));
                    w[i] * p * (1.0 - p)
                })
                .collect();
            for stride in strides {
                let (h, ws) = loss_grad_hessian(r, &theta, Some(stride)).1.unwrap();
                let mut want = vec![0.0; d * d];
                let mut wsum = 0.0;
                for i in (0..n).step_by(stride) {
                    wsum += w[i];
                    for a in 0..d {
                        for b in 0..d {
                            want[a * d + b] += curv[i] * z[i * d + a] * z[i * d + b];
                        }
                    }
                }
                assert!(
                    (ws - wsum).abs() <= 1e-12 * wsum,
                    "n {n} d {d} stride {stride}"
                );
                for (k, (g, e)) in h.iter().zip(&want).enumerate() {
                    assert!(
                        (g - e).abs() <= 1e-12 * (1.0 + e.abs()),
                        "n {n} d {d} stride {stride} entry {k}: {g} vs {e}"
                    );
                }
            }
        }
    }

    /// The two builds of the tile kernel (AVX2+FMA, portable) give the same bits, so a fit
    /// does not depend on the CPU it ran on, and both give, entry by entry, the bits of the
    /// order the kernel promises: from 0, one fused multiply–add per row in row order, then
    /// added to h (so no change of tile shape can move a fit unnoticed). Each build the
    /// machine has is run.
    #[test]
    fn every_build_of_the_tile_kernel_gives_the_row_order_bits() {
        for d in [1usize, 3, 8, 10, 13, 16, 50] {
            let dp = d.div_ceil(8) * 8;
            let rows = 29;
            let (z, _, _) = rows_of(BLOCK, d);
            let mut up = vec![0.0; BLOCK * dp];
            let mut xp = vec![0.0; BLOCK * dp];
            let u = |k: usize, j: usize| z[k * d + j] * (0.1 + k as f64 / 7.0);
            for k in 0..rows {
                for j in 0..d {
                    let o = (j / 8) * BLOCK * 8 + k * 8 + j % 8;
                    xp[o] = z[k * d + j];
                    up[o] = u(k, j);
                }
            }
            // h starts from a non-zero matrix, as on every block after a chunk's first.
            let start: Vec<f64> = (0..dp * dp).map(|k| (k % 11) as f64 * 0.25).collect();
            let want: Vec<u64> = (0..d)
                .flat_map(|a| (a..d).map(move |b| (a, b)))
                .map(|(a, b)| {
                    let mut acc = 0.0f64;
                    for k in 0..rows {
                        acc = u(k, a).mul_add(z[k * d + b], acc);
                    }
                    (start[a * dp + b] + acc).to_bits()
                })
                .collect();
            let upper = |h: &[f64]| -> Vec<u64> {
                (0..d)
                    .flat_map(|a| (a..d).map(move |b| (a, b)))
                    .map(|(a, b)| h[a * dp + b].to_bits())
                    .collect()
            };
            let mut h = start.clone();
            block_update_tiles(&mut h, d, dp, &up, &xp, rows);
            assert_eq!(upper(&h), want, "portable, d {d}");
            #[cfg(target_arch = "x86_64")]
            {
                if has_fma() {
                    let mut h = start.clone();
                    // SAFETY: AVX2 and FMA are present.
                    unsafe { block_update_fma(&mut h, d, dp, &up, &xp, rows) };
                    assert_eq!(upper(&h), want, "AVX2, d {d}");
                }
            }
        }
    }

    /// Every d that `by_width!` unrolls, and one either side: the pass with d a constant
    /// against the same pass with d a run-time value (an all-zero row included).
    #[test]
    fn the_unrolled_copies_of_the_pass_give_the_general_copys_bits() {
        for d in 1..=17 {
            let n = 203;
            let (mut z, y, w) = rows_of(n, d);
            z[5 * d..6 * d].fill(0.0);
            let theta: Vec<f64> = (0..d).map(|j| 0.3 - 0.07 * j as f64).collect();
            for wt in [None, Some(&w[..])] {
                let mut ga = vec![0.0; d];
                let mut gb = vec![0.0; d];
                let a = by_width!(d, wd => pass_chunk::<false, _>(wd, &z, &y, wt, &theta, &mut ga, None));
                let b = pass_chunk::<false, _>(Any(d), &z, &y, wt, &theta, &mut gb, None);
                assert_eq!(a.0.to_bits(), b.0.to_bits(), "loss at d = {d}");
                assert_eq!((a.1, a.2), (b.1, b.2), "counts at d = {d}");
                assert_eq!(a.2, 1, "the zero row at d = {d}");
                let bits = |g: &[f64]| g.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&ga), bits(&gb), "gradient at d = {d}");
            }
        }
    }

    /// The pass's two builds (AVX2+FMA and portable) give the same bits, with and without a
    /// fused Hessian.
    #[test]
    fn both_builds_of_the_pass_give_the_same_bits() {
        let (n, d) = (200, 13);
        let (z, y, w) = rows_of(n, d);
        let r = rows(&z, &y, &w, d);
        let theta: Vec<f64> = (0..d).map(|j| 0.2 - 0.05 * j as f64).collect();
        for hess_stride in [None, Some(3)] {
            let job = Job {
                rows: r,
                theta: &theta,
                start: 0,
                end: n,
                at_zero: false,
                hess_stride,
            };
            let a = run_chunk(job);
            #[cfg(target_arch = "x86_64")]
            if has_fma() {
                // SAFETY: AVX2 and FMA are present.
                let b = unsafe { run_chunk_fma(job) };
                assert_eq!(a.loss.to_bits(), b.loss.to_bits());
                assert_eq!(a.grad, b.grad);
                assert_eq!((a.nonpositive, a.zero_rows), (b.nonpositive, b.zero_rows));
                assert_eq!(a.hessian, b.hessian);
            }
        }
    }
}
