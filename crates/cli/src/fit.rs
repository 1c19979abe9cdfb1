//! `signest fit`: one estimator on a user's CSV of comparisons.

use crate::CliError;
use signest_core::Standardization;
use signest_core::metrics::loss01;
use signest_estimator::{Fit, NameError, NamedOptions, Registry, SharedEstimator};
use std::path::PathBuf;

/// Settings of `signest fit`.
#[derive(Debug, Clone, PartialEq)]
pub struct FitArgs {
    pub data: PathBuf,
    /// `bt`, `sign` or `hinge`.
    pub estimator: String,
    /// `exact` or `smooth` (sign only); default exact.
    pub solver: Option<String>,
    /// Standardise non-constant columns before fitting.
    pub standardize: bool,
    /// Branch-and-bound node budget (sign exact, d >= 3).
    pub max_nodes: Option<u64>,
    /// Branch-and-bound time budget in seconds.
    pub time_limit: Option<f64>,
    /// Branch-and-bound memory budget for open nodes, in MiB.
    pub max_memory: Option<u64>,
    /// Seed of the smooth solver's random starts.
    pub seed: u64,
    /// sign anneal: `thorough` (default) or `fast`.
    pub profile: Option<String>,
}

/// The result of `signest fit`, ready to print as text or JSON.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FitOutput {
    pub direction: Vec<f64>,
    pub features: Vec<String>,
    /// Weighted training 0-1 loss as a fraction of the total weight (ties count ½).
    pub loss01: f64,
    /// Unweighted training 0-1 loss as a fraction of n.
    pub loss01_unweighted: f64,
    /// Rows with y·u'z > 0.
    pub correct: usize,
    pub n: usize,
    pub d: usize,
    pub estimator: String,
    pub solver: String,
    pub status: String,
    pub certified: bool,
    /// Exact solver: upper minus lower bound on the weighted 0-1 loss (a sum); else null.
    pub gap: Option<f64>,
    pub lower_bound: Option<f64>,
    pub iterations: u64,
    pub fit_seconds: f64,
    pub notes: Vec<String>,
    pub standardized: bool,
    /// With `--standardize`: coefficients on the original (unstandardised) columns.
    pub direction_original_units: Option<Vec<f64>>,
    pub standardization: Option<Standardization>,
}

/// Builds the estimator named on the command line (from the registry). `--seed` has a
/// default, so it is passed only to solvers that take a seed.
pub fn estimator_from_args(args: &FitArgs) -> Result<SharedEstimator, CliError> {
    if args.estimator == "external" {
        return Err(CliError::input(
            "--estimator: external runs only inside a sweep: give it a command in an [[estimator]] table (docs/experiments.md, \"External estimators\"), or fit your estimator directly",
        ));
    }
    let reg = Registry::builtin();
    let takes_seed = reg.get(&args.estimator).is_some_and(|k| {
        let s = match &args.solver {
            Some(s) => k.solver(s),
            None => Some(k.default_solver()),
        };
        s.is_some_and(|s| s.settings.contains(&"seed"))
    });
    let opts = NamedOptions {
        solver: args.solver.clone(),
        max_nodes: args.max_nodes,
        time_limit_seconds: args.time_limit,
        max_memory_mib: args.max_memory,
        seed: takes_seed.then_some(args.seed),
        profile: args.profile.clone(),
        ..NamedOptions::default()
    };
    reg.build(&args.estimator, &opts)
        .map(|b| b.estimator)
        .map_err(|e| {
            let flag = |key: &str| match key {
                "max_nodes" => "--max-nodes".to_string(),
                "time_limit_seconds" => "--time-limit".to_string(),
                "max_memory_mib" => "--max-memory".to_string(),
                other => format!("--{}", other.replace('_', "-")),
            };
            CliError::input(match &e {
                NameError::UnknownEstimator { .. } => format!("--estimator: {e}"),
                NameError::UnknownSolver { .. } => format!("--solver: {e}"),
                NameError::NotApplicable { key, .. } => format!("{}: {e}", flag(key)),
                NameError::BadSetting(s) => format!("{}: {e}", flag(s.key)),
            })
        })
}

/// Reads the data, fits, and evaluates the training loss.
pub fn run(args: &FitArgs) -> Result<FitOutput, CliError> {
    let est = estimator_from_args(args)?;
    let csv =
        signest_io::read_comparisons_csv(&args.data).map_err(|e| CliError::input(e.to_string()))?;
    let raw = csv.data;
    let (data, standardization) = if args.standardize {
        let (s, t) = raw.standardized();
        (s, Some(t))
    } else {
        (raw.clone(), None)
    };
    let fit: Fit = est
        .fit(&data)
        .map_err(|e| CliError::input(format!("{}: {e}", args.data.display())))?;
    let l = loss01(&data, &fit.direction);
    let direction_original_units = standardization
        .as_ref()
        .and_then(|t| t.to_original(&fit.direction, raw.row(0)));
    Ok(FitOutput {
        features: data.feature_names().to_vec(),
        loss01: l.weighted_fraction(),
        loss01_unweighted: l.unweighted_fraction(),
        correct: l.correct,
        n: data.n(),
        d: data.d(),
        estimator: fit.estimator.to_string(),
        solver: fit.solver.to_string(),
        status: fit.status.as_str().to_string(),
        certified: fit.certified(),
        gap: fit.certificate.map(|c| c.gap()),
        lower_bound: fit.certificate.map(|c| c.lower_bound),
        iterations: fit.iterations,
        fit_seconds: fit.fit_seconds,
        notes: fit.notes,
        standardized: args.standardize,
        direction_original_units,
        standardization,
        direction: fit.direction,
    })
}

/// Human-readable report.
pub fn render_text(o: &FitOutput) -> String {
    let mut s = String::new();
    s += &format!(
        "signest fit: {} (solver {}), n = {}, d = {}\n",
        o.estimator, o.solver, o.n, o.d
    );
    s += &match (o.certified, o.gap, o.lower_bound) {
        (true, _, Some(lb)) => {
            format!("status: certified optimum (weighted 0-1 loss {lb} = proven lower bound)\n")
        }
        (false, Some(g), Some(lb)) => {
            format!("status: budget exhausted, gap {g} (proven lower bound {lb})\n")
        }
        _ => format!("status: {}\n", o.status),
    };
    s += &format!(
        "direction (unit vector{}):\n",
        if o.standardized {
            ", standardised units"
        } else {
            ""
        }
    );
    let width = o.features.iter().map(|f| f.len()).max().unwrap_or(0);
    for (i, (f, v)) in o.features.iter().zip(&o.direction).enumerate() {
        let orig = o
            .direction_original_units
            .as_ref()
            .map_or(String::new(), |b| {
                format!("   (original units: {:+.6e})", b[i])
            });
        s += &format!("  {f:<width$}  {v:+.6}{orig}\n");
    }
    s += &format!(
        "training 0-1 loss: weighted {:.6}, unweighted {:.6}; correctly classified {} of {}\n",
        o.loss01, o.loss01_unweighted, o.correct, o.n
    );
    s += &format!("iterations {}, fit {:.3} s\n", o.iterations, o.fit_seconds);
    for note in &o.notes {
        s += &format!("note: {note}\n");
    }
    s
}
