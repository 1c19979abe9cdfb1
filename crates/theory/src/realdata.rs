//! Every estimator on one real data set: directions, pairwise angles, implied ratios of
//! coefficients (for example a value of time), and held-out 0-1 accuracy and log-loss with
//! k-fold cross-validation split *by respondent* (so no respondent is in both parts).
//!
//! Fits run on the data with each column divided by its standard deviation (numerics); every
//! estimator here is equivariant to such rescaling (the 0-1 loss and the likelihoods only see
//! u'z), so directions are mapped back to the original units by dividing by the scales.
//! Log-loss needs a scale for estimators that only return a direction: on the training folds
//! the scale s ≥ 0 of θ = s·u is fitted by one-dimensional logistic maximum likelihood, the
//! same rule for every estimator.

use rand::RngExt;
use signest_core::Comparisons;
use signest_core::linalg::dot;
use signest_estimator::SharedEstimator;

fn sigmoid(t: f64) -> f64 {
    crate::quad::sigmoid(t)
}
fn softplus(t: f64) -> f64 {
    if t > 0.0 {
        t + (-t).exp().ln_1p()
    } else {
        t.exp().ln_1p()
    }
}

/// One estimator fitted to all the data.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RealFit {
    pub estimator: String,
    /// Unit direction in the original units of the features.
    pub direction: Vec<f64>,
    /// Share of comparisons whose sign agrees with the direction (ties ½).
    pub train_accuracy: f64,
    pub status: String,
    pub notes: String,
    pub fit_seconds: f64,
}

/// Held-out performance of one estimator on one fold.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FoldResult {
    pub estimator: String,
    pub fold: usize,
    pub n_test: usize,
    pub respondents_test: usize,
    pub accuracy: f64,
    pub logloss: f64,
    pub scale: f64,
}

/// Mean over folds with a t interval (k − 1 degrees of freedom).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CvSummary {
    pub estimator: String,
    pub folds: usize,
    pub accuracy: f64,
    pub accuracy_lo: f64,
    pub accuracy_hi: f64,
    pub logloss: f64,
    pub logloss_lo: f64,
    pub logloss_hi: f64,
}

fn accuracy(data: &Comparisons, u: &[f64]) -> f64 {
    let l = signest_core::metrics::loss01(data, u);
    1.0 - l.weighted_fraction()
}

/// Logistic scale s ≥ 0 maximising Σ w log σ(s·u'x) (Newton on one variable, from s = 1).
fn fit_scale(data: &Comparisons, u: &[f64]) -> f64 {
    let x = data.signed_rows();
    let d = data.d();
    let m: Vec<f64> = x.chunks_exact(d).map(|r| dot(r, u)).collect();
    let w: Vec<f64> = (0..data.n()).map(|i| data.weight(i)).collect();
    let mut s = 1.0f64;
    for _ in 0..100 {
        let (mut g, mut h) = (0.0, 0.0);
        for (mi, wi) in m.iter().zip(&w) {
            let p = sigmoid(-s * mi);
            g += wi * mi * p;
            h += wi * mi * mi * p * (1.0 - p);
        }
        if h <= 0.0 {
            break;
        }
        let next = (s + g / h).max(0.0);
        if (next - s).abs() <= 1e-12 * (1.0 + s) {
            s = next;
            break;
        }
        s = next;
    }
    s
}

fn logloss(data: &Comparisons, u: &[f64], s: f64) -> f64 {
    let x = data.signed_rows();
    let d = data.d();
    let tw = data.total_weight();
    x.chunks_exact(d)
        .enumerate()
        .map(|(i, r)| data.weight(i) * softplus(-s * dot(r, u)))
        .sum::<f64>()
        / tw
}

/// Fits every estimator on all of `data`.
pub fn fit_all(
    data: &Comparisons,
    estimators: &[(String, SharedEstimator)],
) -> Vec<Result<RealFit, String>> {
    let s = data.column_sd();
    let sd = data.scale_columns(&s);
    estimators
        .iter()
        .map(|(label, e)| {
            let f = e.fit(&sd).map_err(|err| format!("{label}: {err}"))?;
            let back: Vec<f64> = f.direction.iter().zip(&s).map(|(u, c)| u / c).collect();
            let dir = signest_core::linalg::normalized(&back)
                .ok_or_else(|| format!("{label}: zero direction"))?;
            Ok(RealFit {
                estimator: label.clone(),
                train_accuracy: accuracy(data, &dir),
                direction: dir,
                status: f.status.as_str().to_string(),
                notes: f.notes.join("; "),
                fit_seconds: f.fit_seconds,
            })
        })
        .collect()
}

/// k-fold cross-validation by respondent (rows without respondent ids: each row its own).
pub fn crossval(
    data: &Comparisons,
    estimators: &[(String, SharedEstimator)],
    k: usize,
    seed: u64,
) -> Result<(Vec<FoldResult>, Vec<CvSummary>), String> {
    let n = data.n();
    let ids: Vec<u32> = match data.respondents() {
        Some(r) => r.to_vec(),
        None => (0..n as u32).collect(),
    };
    let mut uniq: Vec<u32> = ids.clone();
    uniq.sort_unstable();
    uniq.dedup();
    if k < 2 || uniq.len() < k {
        return Err(format!(
            "cross-validation needs 2 <= k <= number of respondents ({}), got k = {k}",
            uniq.len()
        ));
    }
    // Shuffle respondents (Fisher–Yates on the seeding contract's stream), deal into folds.
    let mut rng = signest_core::seed::stream(seed, "signest/crossval", 0);
    for i in (1..uniq.len()).rev() {
        let j = rng.random_range(0..=i);
        uniq.swap(i, j);
    }
    let fold_of: std::collections::HashMap<u32, usize> =
        uniq.iter().enumerate().map(|(i, r)| (*r, i % k)).collect();
    let mut results = Vec::new();
    for fold in 0..k {
        let test: Vec<usize> = (0..n).filter(|&i| fold_of[&ids[i]] == fold).collect();
        let train: Vec<usize> = (0..n).filter(|&i| fold_of[&ids[i]] != fold).collect();
        let (tr, te) = (data.select(&train), data.select(&test));
        let s = tr.column_sd();
        let trs = tr.scale_columns(&s);
        for (label, e) in estimators {
            let f = e
                .fit(&trs)
                .map_err(|err| format!("fold {fold}, {label}: {err}"))?;
            let back: Vec<f64> = f.direction.iter().zip(&s).map(|(u, c)| u / c).collect();
            let u = signest_core::linalg::normalized(&back)
                .ok_or_else(|| format!("{label}: zero direction"))?;
            let sc = fit_scale(&tr, &u);
            let mut rs: Vec<u32> = test.iter().map(|&i| ids[i]).collect();
            rs.sort_unstable();
            rs.dedup();
            results.push(FoldResult {
                estimator: label.clone(),
                fold,
                n_test: test.len(),
                respondents_test: rs.len(),
                accuracy: accuracy(&te, &u),
                logloss: logloss(&te, &u, sc),
                scale: sc,
            });
        }
    }
    let t = {
        use statrs::distribution::{ContinuousCDF, StudentsT};
        StudentsT::new(0.0, 1.0, (k - 1) as f64)
            .map(|d| d.inverse_cdf(0.975))
            .unwrap_or(1.96)
    };
    let summary = estimators
        .iter()
        .map(|(label, _)| {
            let rs: Vec<&FoldResult> = results.iter().filter(|r| &r.estimator == label).collect();
            let ms = |f: &dyn Fn(&FoldResult) -> f64| {
                let v: Vec<f64> = rs.iter().map(|r| f(r)).collect();
                let m = v.iter().sum::<f64>() / v.len() as f64;
                let sd = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() as f64 - 1.0))
                    .sqrt();
                (m, t * sd / (v.len() as f64).sqrt())
            };
            let (a, ah) = ms(&|r| r.accuracy);
            let (l, lh) = ms(&|r| r.logloss);
            CvSummary {
                estimator: label.clone(),
                folds: k,
                accuracy: a,
                accuracy_lo: a - ah,
                accuracy_hi: a + ah,
                logloss: l,
                logloss_lo: l - lh,
                logloss_hi: l + lh,
            }
        })
        .collect();
    Ok((results, summary))
}

/// Angle in degrees between every pair of fitted directions.
pub fn pairwise_angles(fits: &[RealFit]) -> Vec<(String, String, f64)> {
    let mut out = Vec::new();
    for (i, a) in fits.iter().enumerate() {
        for b in &fits[i + 1..] {
            out.push((
                a.estimator.clone(),
                b.estimator.clone(),
                signest_core::metrics::angular_error_deg(&a.direction, &b.direction),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use signest_estimator::Estimator;
    use signest_estimator::NamedOptions;
    use signest_sim::{Design, Dgp, Features, Noise, Population};

    /// Folds partition the respondents; directions map back to the original units exactly
    /// (bt on columns scaled by 1000 and 1 points the same way as on the raw data, once the
    /// scaling is undone).
    #[test]
    fn crossval_splits_by_respondent_and_fits_map_back() {
        let dgp = Dgp::new(
            Population::homogeneous(vec![0.002, -1.0]),
            Features::Anisotropic {
                scales: vec![1000.0, 1.0],
            },
            Noise::Logistic { scale: 1.0 },
        )
        .unwrap();
        let mut rng = signest_core::seed::stream(1, "crossval-test", 0);
        let data = dgp.sample(
            Design::Panel {
                respondents: 30,
                per_respondent: 20,
            },
            &mut rng,
        );
        let reg = signest_estimator::Registry::builtin();
        let ests: Vec<(String, SharedEstimator)> = ["bt", "sign", "peruser"]
            .iter()
            .map(|n| {
                (
                    n.to_string(),
                    reg.build(n, &NamedOptions::default()).unwrap().estimator,
                )
            })
            .collect();
        let (folds, summary) = crossval(&data, &ests, 3, 5).unwrap();
        let per_fold: usize = folds
            .iter()
            .filter(|f| f.estimator == "bt")
            .map(|f| f.respondents_test)
            .sum();
        assert_eq!(per_fold, 30, "every respondent is tested exactly once");
        let rows: usize = folds
            .iter()
            .filter(|f| f.estimator == "bt")
            .map(|f| f.n_test)
            .sum();
        assert_eq!(rows, 600);
        for s in &summary {
            assert!(
                s.accuracy > 0.6 && s.accuracy <= 1.0 && s.accuracy_lo <= s.accuracy,
                "{s:?}"
            );
            assert!(s.logloss > 0.0 && s.logloss < (2f64).ln(), "{s:?}");
        }
        let fits: Vec<RealFit> = fit_all(&data, &ests)
            .into_iter()
            .map(|f| f.unwrap())
            .collect();
        let raw_bt = signest_estimator::Bt::default()
            .fit(&data)
            .unwrap()
            .direction;
        assert!(signest_core::metrics::angular_error_deg(&fits[0].direction, &raw_bt) < 1e-6);
        assert_eq!(pairwise_angles(&fits).len(), 3);
    }
}
