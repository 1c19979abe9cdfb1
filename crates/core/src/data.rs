//! The comparison data set (SPEC §1).

use std::fmt;

/// Why a [`Comparisons`] could not be built.
#[derive(Debug, Clone, PartialEq)]
pub enum DataError {
    /// A vector had the wrong length.
    Shape(String),
    /// A label was not ±1.
    Label { row: usize, value: f64 },
    /// A feature difference was NaN or infinite.
    NonFinite { row: usize, col: usize },
    /// A weight was not finite and > 0.
    Weight { row: usize, value: f64 },
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::Shape(s) => write!(f, "shape mismatch: {s}"),
            DataError::Label { row, value } => {
                write!(f, "row {row}: label {value} is not +1 or -1")
            }
            DataError::NonFinite { row, col } => {
                write!(f, "row {row}, column {col}: feature is not a finite number")
            }
            DataError::Weight { row, value } => {
                write!(f, "row {row}: weight {value} is not a finite number > 0")
            }
        }
    }
}

impl std::error::Error for DataError {}

/// n pairwise comparisons in d features.
///
/// Row i holds the difference `z_i = x_a − x_b` and the answer `y_i = +1` when the first
/// alternative was preferred, `−1` otherwise. Weights default to 1. Respondent ids (panel
/// designs) are dense indices `0..n_respondents`.
///
/// Invariants (checked by [`Comparisons::new`]): `z.len() == n * d`, every `z` finite, every
/// `y` exactly ±1, every weight finite and > 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparisons {
    n: usize,
    d: usize,
    z: Vec<f64>,
    y: Vec<f64>,
    w: Option<Vec<f64>>,
    respondent: Option<Vec<u32>>,
    feature_names: Vec<String>,
}

impl Comparisons {
    /// Builds and validates a data set. `z` is row-major n×d with `n = y.len()`.
    pub fn new(d: usize, z: Vec<f64>, y: Vec<f64>) -> Result<Self, DataError> {
        let n = y.len();
        if d == 0 {
            return Err(DataError::Shape("d = 0 features".into()));
        }
        if z.len() != n * d {
            return Err(DataError::Shape(format!(
                "z has {} entries, expected n*d = {}*{}",
                z.len(),
                n,
                d
            )));
        }
        for (i, &v) in y.iter().enumerate() {
            if v != 1.0 && v != -1.0 {
                return Err(DataError::Label { row: i, value: v });
            }
        }
        if let Some(k) = z.iter().position(|v| !v.is_finite()) {
            return Err(DataError::NonFinite {
                row: k / d,
                col: k % d,
            });
        }
        let feature_names = (0..d).map(|j| format!("x{}", j + 1)).collect();
        Ok(Comparisons {
            n,
            d,
            z,
            y,
            w: None,
            respondent: None,
            feature_names,
        })
    }

    /// Attaches per-comparison weights (each finite and > 0).
    pub fn with_weights(mut self, w: Vec<f64>) -> Result<Self, DataError> {
        if w.len() != self.n {
            return Err(DataError::Shape(format!(
                "{} weights for {} rows",
                w.len(),
                self.n
            )));
        }
        if let Some((i, &v)) = w
            .iter()
            .enumerate()
            .find(|(_, v)| !(v.is_finite() && **v > 0.0))
        {
            return Err(DataError::Weight { row: i, value: v });
        }
        self.w = Some(w);
        Ok(self)
    }

    /// Attaches respondent ids (panel designs).
    pub fn with_respondents(mut self, r: Vec<u32>) -> Result<Self, DataError> {
        if r.len() != self.n {
            return Err(DataError::Shape(format!(
                "{} respondent ids for {} rows",
                r.len(),
                self.n
            )));
        }
        self.respondent = Some(r);
        Ok(self)
    }

    /// Names the d features (used in reports and `signest fit`).
    pub fn with_feature_names(mut self, names: Vec<String>) -> Result<Self, DataError> {
        if names.len() != self.d {
            return Err(DataError::Shape(format!(
                "{} names for d = {}",
                names.len(),
                self.d
            )));
        }
        self.feature_names = names;
        Ok(self)
    }

    pub fn n(&self) -> usize {
        self.n
    }
    pub fn d(&self) -> usize {
        self.d
    }
    /// Row-major differences, n×d.
    pub fn z(&self) -> &[f64] {
        &self.z
    }
    /// Row i of z.
    #[inline]
    pub fn row(&self, i: usize) -> &[f64] {
        &self.z[i * self.d..(i + 1) * self.d]
    }
    /// Labels, each ±1.
    pub fn y(&self) -> &[f64] {
        &self.y
    }
    /// Weights, if any were attached.
    pub fn weights(&self) -> Option<&[f64]> {
        self.w.as_deref()
    }
    /// Weight of row i (1 when unweighted).
    #[inline]
    pub fn weight(&self, i: usize) -> f64 {
        self.w.as_ref().map_or(1.0, |w| w[i])
    }
    /// Sum of weights (n when unweighted).
    pub fn total_weight(&self) -> f64 {
        self.w.as_ref().map_or(self.n as f64, |w| w.iter().sum())
    }
    pub fn respondents(&self) -> Option<&[u32]> {
        self.respondent.as_deref()
    }
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// Signed rows `x_i = y_i z_i`, row-major. Every estimator in SPEC §2 depends on the data
    /// only through these and the weights.
    pub fn signed_rows(&self) -> Vec<f64> {
        use rayon::prelude::*;
        // One write per entry, by blocks of rows in parallel (a fresh n×d buffer costs more
        // in first touches than in copying; each thread touches the pages it fills). A sign
        // flip is exact, so the values do not depend on the blocks.
        const ROWS: usize = 4096;
        let d = self.d; // at least 1 (`new` refuses d = 0)
        let mut x = vec![0.0; self.z.len()];
        x.par_chunks_mut(ROWS * d)
            .zip(self.z.par_chunks(ROWS * d))
            .zip(self.y.par_chunks(ROWS))
            .for_each(|((xb, zb), yb)| {
                for ((xr, zr), yi) in xb.chunks_exact_mut(d).zip(zb.chunks_exact(d)).zip(yb) {
                    if *yi < 0.0 {
                        for (a, b) in xr.iter_mut().zip(zr) {
                            *a = -*b;
                        }
                    } else {
                        xr.copy_from_slice(zr);
                    }
                }
            });
        x
    }

    /// The sub-data-set of the given rows (in that order), keeping weights, respondents, names.
    pub fn select(&self, rows: &[usize]) -> Comparisons {
        let d = self.d;
        let mut z = Vec::with_capacity(rows.len() * d);
        for &i in rows {
            z.extend_from_slice(self.row(i));
        }
        Comparisons {
            n: rows.len(),
            d,
            z,
            y: rows.iter().map(|&i| self.y[i]).collect(),
            w: self
                .w
                .as_ref()
                .map(|w| rows.iter().map(|&i| w[i]).collect()),
            respondent: self
                .respondent
                .as_ref()
                .map(|r| rows.iter().map(|&i| r[i]).collect()),
            feature_names: self.feature_names.clone(),
        }
    }
}

/// Column standardisation of z: `(z_j − mean_j) / sd_j` for every non-constant column
/// (sample sd, n − 1), constant columns left as they are.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Standardization {
    pub mean: Vec<f64>,
    pub sd: Vec<f64>,
    /// True for columns whose values are all equal (left untouched).
    pub constant: Vec<bool>,
}

impl Standardization {
    /// Maps a direction `u` in standardised units back to coefficients on the original z:
    /// `u'z_std = Σ_j (u_j/sd_j) z_j + [u_c − Σ_j u_j mean_j/(sd_j k)] z_c` where column c is a
    /// constant column of value k ≠ 0 that absorbs the centring. `None` when centring moved
    /// a column but no such constant column exists (the standardised model then has an
    /// implicit intercept that raw coefficients cannot express).
    pub fn to_original(&self, u: &[f64], first_row: &[f64]) -> Option<Vec<f64>> {
        let d = u.len();
        let mut b = vec![0.0; d];
        let mut shift = 0.0;
        for j in 0..d {
            if !self.constant[j] {
                b[j] = u[j] / self.sd[j];
                shift += u[j] * self.mean[j] / self.sd[j];
            } else {
                b[j] = u[j];
            }
        }
        if shift == 0.0 {
            return Some(b);
        }
        let c = (0..d).find(|&j| self.constant[j] && first_row[j] != 0.0)?;
        b[c] -= shift / first_row[c];
        Some(b)
    }
}

impl Comparisons {
    /// Sample standard deviation (n − 1) of each column of z; 1 for a column with no spread,
    /// so that dividing by it is always defined.
    pub fn column_sd(&self) -> Vec<f64> {
        let (n, d) = (self.n, self.d);
        (0..d)
            .map(|j| {
                let m = (0..n).map(|i| self.z[i * d + j]).sum::<f64>() / n as f64;
                let v = (0..n).map(|i| (self.z[i * d + j] - m).powi(2)).sum::<f64>()
                    / (n as f64 - 1.0).max(1.0);
                if v > 0.0 { v.sqrt() } else { 1.0 }
            })
            .collect()
    }

    /// The data set with column j of z divided by `s[j]` (weights, respondents, names kept).
    pub fn scale_columns(&self, s: &[f64]) -> Comparisons {
        let mut out = self.clone();
        for row in out.z.chunks_exact_mut(self.d) {
            row.iter_mut().zip(s).for_each(|(x, c)| *x /= c);
        }
        out
    }

    /// The data set with standardised columns, and the transform used: each non-constant
    /// column is divided by its sd, and centred too when a non-zero constant column exists
    /// (which absorbs the centring, so the fitted model is the same up to reparametrisation).
    pub fn standardized(&self) -> (Comparisons, Standardization) {
        let (n, d) = (self.n, self.d);
        let mut mean = vec![0.0; d];
        for i in 0..n {
            for j in 0..d {
                mean[j] += self.z[i * d + j];
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut var = vec![0.0; d];
        for i in 0..n {
            for j in 0..d {
                var[j] += (self.z[i * d + j] - mean[j]).powi(2);
            }
        }
        let constant: Vec<bool> = (0..d)
            .map(|j| (0..n).all(|i| self.z[i * d + j] == self.z[j]))
            .collect();
        let sd: Vec<f64> = var
            .iter()
            .map(|v| (v / (n as f64 - 1.0).max(1.0)).sqrt())
            .collect();
        // Centring is a reparametrisation only when a non-zero constant column can absorb it;
        // without one (pairwise differences, no intercept) columns are only scaled.
        if !(0..d).any(|j| constant[j] && self.z[j] != 0.0) {
            mean.iter_mut().for_each(|m| *m = 0.0);
        }
        let mut out = self.clone();
        for i in 0..n {
            for j in 0..d {
                if !constant[j] {
                    out.z[i * d + j] = (self.z[i * d + j] - mean[j]) / sd[j];
                }
            }
        }
        (out, Standardization { mean, sd, constant })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::dot;

    #[test]
    fn signed_rows_are_y_times_z_row_by_row_across_blocks() {
        // 10,001 rows: two full blocks of the parallel fill and a short one; labels of both
        // signs, and zeros of both signs in z (a flip must turn 0.0 into -0.0 and back).
        let (n, d) = (10_001, 3);
        let z: Vec<f64> = (0..n * d)
            .map(|k| match k % 7 {
                0 => 0.0,
                1 => -0.0,
                r => (k as f64).sqrt() * if r % 2 == 0 { 1.0 } else { -1.0 },
            })
            .collect();
        let y: Vec<f64> = (0..n)
            .map(|i| if i % 3 == 0 { -1.0 } else { 1.0 })
            .collect();
        let data = Comparisons::new(d, z.clone(), y.clone()).unwrap();
        let x = data.signed_rows();
        assert_eq!(x.len(), n * d);
        for i in 0..n {
            for j in 0..d {
                let want = if y[i] < 0.0 {
                    -z[i * d + j]
                } else {
                    z[i * d + j]
                };
                assert_eq!(x[i * d + j].to_bits(), want.to_bits(), "row {i} column {j}");
            }
        }
    }

    #[test]
    fn standardization_round_trips_through_a_constant_column() {
        // Columns: x1, x2, constant 1.
        let z = vec![
            1.0, 10.0, 1.0, 3.0, 14.0, 1.0, 2.0, 9.0, 1.0, 6.0, 11.0, 1.0,
        ];
        let data = Comparisons::new(3, z, vec![1.0, -1.0, 1.0, 1.0]).unwrap();
        let (s, t) = data.standardized();
        assert_eq!(t.constant, [false, false, true]);
        let u = [0.3, -0.8, 0.5];
        let b = t.to_original(&u, data.row(0)).unwrap();
        for i in 0..4 {
            assert!((dot(s.row(i), &u) - dot(data.row(i), &b)).abs() < 1e-12);
        }
        // Without a constant column the columns are only scaled (centring would add an
        // intercept the model does not have), and the map back is exact.
        let d2 =
            Comparisons::new(2, vec![1.0, 5.0, 2.0, -1.0, 4.0, 3.0], vec![1.0, 1.0, -1.0]).unwrap();
        let (s2, t2) = d2.standardized();
        assert_eq!(t2.mean, [0.0, 0.0]);
        let u2 = [0.6, -0.8];
        let b2 = t2.to_original(&u2, d2.row(0)).unwrap();
        for i in 0..3 {
            assert!((dot(s2.row(i), &u2) - dot(d2.row(i), &b2)).abs() < 1e-12);
        }
    }
}
