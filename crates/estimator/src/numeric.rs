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

/// `H += c·x x'` on the packed upper triangle of H (row by row, j ≤ k): one row of
/// [`add_outer_packed_rows`], and the row loop that kernel is tested against.
#[inline]
pub fn add_outer_packed(h: &mut [f64], c: f64, x: &[f64]) {
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

/// The number of features as a row kernel sees it: a constant ([`Fixed`], so the compiler
/// unrolls the loops over a row) or a run-time value ([`Any`]). A kernel written once over
/// `W: Width` and called through [`by_width!`] does the same operations in the same order
/// either way (the same bits; each use tests it), only without loop overhead at small d.
pub(crate) trait Width: Copy {
    fn d(self) -> usize;
}

#[derive(Clone, Copy)]
pub(crate) struct Fixed<const D: usize>;

impl<const D: usize> Width for Fixed<D> {
    #[inline(always)]
    fn d(self) -> usize {
        D
    }
}

#[derive(Clone, Copy)]
pub(crate) struct Any(pub(crate) usize);

impl Width for Any {
    #[inline(always)]
    fn d(self) -> usize {
        self.0
    }
}

/// `by_width!(d, w => expr)`: `expr` with `w` bound to `Fixed::<d>` for d = 2..=16 (where
/// loop overhead costs more than a row's arithmetic) and to `Any(d)` otherwise.
macro_rules! by_width {
    ($d:expr, $w:ident => $body:expr) => {
        by_width!(@arms $d, $w, $body, 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
    };
    (@arms $d:expr, $w:ident, $body:expr, $($k:literal)*) => {
        match $d {
            $($k => {
                let $w = $crate::numeric::Fixed::<$k>;
                $body
            })*
            other => {
                let $w = $crate::numeric::Any(other);
                $body
            }
        }
    };
}
pub(crate) use by_width;

/// Declares, from one signature and body, `fn PORTABLE(args) -> R { body }` (inlined into its
/// callers) and `fn NAME(args) -> R`, which runs that body compiled for AVX2 where the CPU has
/// it (x86-64; detection is cached by the standard library) and as it is otherwise. Rust never
/// fuses a multiplication and an addition on its own, so both builds do the same operations in
/// the same order and give the same bits; only the vector width differs (each use tests its
/// builds against each other through PORTABLE).
macro_rules! avx2_dispatch {
    ($(#[$meta:meta])* $vis:vis fn $name:ident / $portable:ident
        ($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        #[inline(always)]
        fn $portable($($arg: $ty),*) $(-> $ret)? $body

        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $portable($($arg),*)
                }
                if std::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2 (checked just above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            $portable($($arg),*)
        }
    };
}
pub(crate) use avx2_dispatch;

avx2_dispatch! {
/// `H += Σ_i c_i·x_i x_i'` over the rows x_i of `xs` (row-major, d columns) on the packed upper
/// triangle of H: the same bits as [`add_outer_packed`] row after row (each entry takes the same
/// products, c_i·x_ia then ·x_ib, added in row order), computed by blocks of entries held in
/// registers across the rows, so that H is read and written once per call instead of once per
/// row. AVX2 code where the CPU has it (tested against the row loop bit for bit).
pub fn add_outer_packed_rows / add_outer_packed_rows_portable(
    h: &mut [f64],
    c: &[f64],
    xs: &[f64],
    d: usize,
) {
    debug_assert_eq!(xs.len(), c.len() * d);
    let mut o = 0;
    for a in 0..d {
        // Packed row a holds the entries (a, b) for b = a..d at h[o..o + d - a]: blocks of 16
        // entries, then of 4, then single ones, each held in registers across the rows.
        let mut b = a;
        while d - b >= 16 {
            outer_block::<16>(&mut h[o + b - a..o + b - a + 16], c, xs, d, a, b);
            b += 16;
        }
        while d - b >= 4 {
            outer_block::<4>(&mut h[o + b - a..o + b - a + 4], c, xs, d, a, b);
            b += 4;
        }
        while b < d {
            outer_block::<1>(&mut h[o + b - a..o + b - a + 1], c, xs, d, a, b);
            b += 1;
        }
        o += d - a;
    }
}
}

/// Entries (a, b..b + N) of the packed H, `hb`, plus Σ_i c_i·x_ia·x_i(b..b+N), term by term in
/// row order.
#[inline(always)]
fn outer_block<const N: usize>(
    hb: &mut [f64],
    c: &[f64],
    xs: &[f64],
    d: usize,
    a: usize,
    b: usize,
) {
    let mut acc = [0.0f64; N];
    acc.copy_from_slice(hb);
    for (ci, x) in c.iter().zip(xs.chunks_exact(d)) {
        let ca = ci * x[a];
        let xb = &x[b..b + N];
        for t in 0..N {
            acc[t] += ca * xb[t];
        }
    }
    hb.copy_from_slice(&acc);
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

    /// The blocked outer product over rows equals the row-by-row one bit for bit (both builds
    /// of it, every d from 1 to 40 — blocks full and partial —, 0 to 60 rows, zero
    /// coefficients included).
    #[test]
    fn blocked_rows_outer_product_equals_the_row_loop_bit_for_bit() {
        use rand::RngExt;
        let mut rng = signest_core::seed::solver_rng(11);
        let mut next = || rng.random::<f64>() - 0.5;
        for d in 1..=40 {
            let np = d * (d + 1) / 2;
            for m in [0usize, 1, 7, 60] {
                let xs: Vec<f64> = (0..m * d).map(|_| 4.0 * next()).collect();
                let c: Vec<f64> = (0..m)
                    .map(|i| if i % 5 == 3 { 0.0 } else { next() })
                    .collect();
                let start: Vec<f64> = (0..np).map(|_| next()).collect();
                let mut want = start.clone();
                for (ci, x) in c.iter().zip(xs.chunks_exact(d)) {
                    add_outer_packed(&mut want, *ci, x);
                }
                let mut got = start.clone();
                add_outer_packed_rows(&mut got, &c, &xs, d);
                let mut portable = start;
                add_outer_packed_rows_portable(&mut portable, &c, &xs, d);
                for ((g, p), w) in got.iter().zip(&portable).zip(&want) {
                    assert_eq!(g.to_bits(), w.to_bits(), "d = {d}, m = {m}");
                    assert_eq!(p.to_bits(), w.to_bits(), "d = {d}, m = {m}");
                }
            }
        }
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
