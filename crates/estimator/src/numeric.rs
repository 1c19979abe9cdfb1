//! Scalar functions shared by the solvers.

/// The logistic sigmoid 1/(1 + e^−t), without overflow for any t.
#[inline]
pub fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

/// log(1 + e^t), stable for all t.
#[inline]
pub fn softplus(t: f64) -> f64 {
    if t > 0.0 {
        t + (-t).exp().ln_1p()
    } else {
        t.exp().ln_1p()
    }
}

/// `(softplus(−m), sigmoid(−m))` from one exponential e^{−|m|}: the logistic loss of a row
/// with margin m and its probability of the wrong sign, stable for all m (the same values as
/// the two functions above, bit for bit).
#[inline]
pub fn logistic_loss_and_wrong_prob(m: f64) -> (f64, f64) {
    let e = (-m.abs()).exp();
    let loss = (-m).max(0.0) + e.ln_1p();
    let p = if m >= 0.0 {
        e / (1.0 + e)
    } else {
        1.0 / (1.0 + e)
    };
    (loss, p)
}

/// `H += c·x x'` on the packed upper triangle of H (row by row, j ≤ k).
///
/// Runs as AVX2 code where the CPU has it: the same multiplications and additions, one per
/// entry in the same order (no fused multiply–add), four entries to an instruction instead of
/// two, so the bits are the portable build's (tested).
#[inline]
pub fn add_outer_packed(h: &mut [f64], c: f64, x: &[f64]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { add_outer_packed_avx2(h, c, x) };
    }
    add_outer_packed_portable(h, c, x)
}

/// AVX2 present (x86-64): the `_avx2` builds of the kernels may run. (Detection is cached by
/// the standard library; this is one atomic load.)
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn has_avx2() -> bool {
    std::is_x86_feature_detected!("avx2")
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn add_outer_packed_avx2(h: &mut [f64], c: f64, x: &[f64]) {
    add_outer_packed_portable(h, c, x)
}

#[inline(always)]
pub(crate) fn add_outer_packed_portable(h: &mut [f64], c: f64, x: &[f64]) {
    let d = x.len();
    let mut o = 0;
    for a in 0..d {
        let ca = c * x[a];
        for (hv, xv) in h[o..o + d - a].iter_mut().zip(&x[a..]) {
            *hv += ca * xv;
        }
        o += d - a;
    }
}

/// `H += λ I` on a packed upper triangle of dimension d.
#[inline]
pub fn add_diagonal_packed(h: &mut [f64], lambda: f64, d: usize) {
    let mut o = 0;
    for a in 0..d {
        h[o] += lambda;
        o += d - a;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fused_logistic_pair_equals_the_separate_functions_bit_for_bit() {
        for m in [-800.0, -40.0, -3.5, -1e-9, 0.0, 1e-9, 0.7, 36.0, 800.0] {
            let (l, p) = logistic_loss_and_wrong_prob(m);
            assert_eq!(l.to_bits(), softplus(-m).to_bits(), "loss at {m}");
            assert_eq!(p.to_bits(), sigmoid(-m).to_bits(), "prob at {m}");
        }
    }

    /// The AVX2 build of the packed outer product gives the portable build's bits (every d
    /// from 1 to 70, so every remainder of the vector width), accumulated over many rows.
    #[test]
    fn packed_outer_product_builds_agree_bit_for_bit() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        for d in 1..=70 {
            let np = d * (d + 1) / 2;
            let (mut a, mut b) = (vec![0.0; np], vec![0.0; np]);
            for _ in 0..25 {
                let x: Vec<f64> = (0..d).map(|_| 3.0 * next()).collect();
                let c = next();
                add_outer_packed(&mut a, c, &x);
                add_outer_packed_portable(&mut b, c, &x);
            }
            for (p, q) in a.iter().zip(&b) {
                assert_eq!(p.to_bits(), q.to_bits(), "d = {d}");
            }
        }
        #[cfg(target_arch = "x86_64")]
        println!("AVX2 build tested: {}", has_avx2());
    }

    #[test]
    fn packed_helpers_match_a_dense_matrix() {
        let x = [1.0, -2.0, 0.5];
        let mut h = vec![0.0; 6];
        add_outer_packed(&mut h, 2.0, &x);
        add_diagonal_packed(&mut h, 0.25, 3);
        let dense = |a: usize, b: usize| 2.0 * x[a] * x[b] + if a == b { 0.25 } else { 0.0 };
        let want = [
            dense(0, 0),
            dense(0, 1),
            dense(0, 2),
            dense(1, 1),
            dense(1, 2),
            dense(2, 2),
        ];
        assert_eq!(h, want);
    }
}
