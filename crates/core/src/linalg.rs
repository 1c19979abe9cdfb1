//! Small dense-vector helpers (d is small: 2 to a few hundred).

/// Inner product. Panics in debug builds if the lengths differ.
#[inline]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let mut s = 0.0;
    for (x, y) in a.iter().zip(b) {
        s += x * y;
    }
    s
}

/// Euclidean norm.
#[inline]
pub fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// `a / ||a||`, or `None` when `a` is zero or not finite.
pub fn normalized(a: &[f64]) -> Option<Vec<f64>> {
    let n = norm(a);
    if n > 0.0 && n.is_finite() {
        Some(a.iter().map(|x| x / n).collect())
    } else {
        None
    }
}

/// In-place normalisation; returns false (and leaves `a` untouched) when `a` is zero.
pub fn normalize(a: &mut [f64]) -> bool {
    let n = norm(a);
    if n > 0.0 && n.is_finite() {
        a.iter_mut().for_each(|x| *x /= n);
        true
    } else {
        false
    }
}

/// `y += alpha * x`.
#[inline]
pub fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}
