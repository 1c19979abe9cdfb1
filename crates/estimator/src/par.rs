//! Deterministic data-parallel reductions over rows.
//!
//! Rows are cut into fixed chunks of [`CHUNK`] rows; each chunk's partial result is computed
//! (in parallel when there are enough rows) and the partials are folded in chunk order. The
//! result is therefore bit-identical for any number of threads (SPEC §7).

use rayon::prelude::*;
use std::ops::Range;

/// Rows per chunk. Fixed: changing it changes floating-point summation order.
pub const CHUNK: usize = 16_384;
/// Below this many rows the chunks are processed on the calling thread.
pub const PAR_MIN_ROWS: usize = 4 * CHUNK;

/// `fold(map(chunk_0), map(chunk_1), ...)` in chunk order.
pub fn map_reduce<T, M, F>(n: usize, map: M, mut fold: F) -> Option<T>
where
    T: Send,
    M: Fn(Range<usize>) -> T + Sync,
    F: FnMut(T, T) -> T,
{
    let chunks = n.div_ceil(CHUNK);
    let range = |c: usize| c * CHUNK..((c + 1) * CHUNK).min(n);
    let partials: Vec<T> = if n >= PAR_MIN_ROWS {
        (0..chunks).into_par_iter().map(|c| map(range(c))).collect()
    } else {
        (0..chunks).map(|c| map(range(c))).collect()
    };
    partials.into_iter().reduce(&mut fold)
}

/// Element-wise `a += b`, the usual fold for vector partials.
pub fn add_into(mut a: Vec<f64>, b: Vec<f64>) -> Vec<f64> {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
    a
}
