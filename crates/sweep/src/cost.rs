//! A cost plan before a sweep (`signest run --dry-run`): how many work units each cell has and
//! how long the run will take, predicted from timed sample units, so a user knows before
//! starting whether to shard. Writes nothing.
//!
//! The model: a sweep runs its units one per thread, so its wall time is the sum over cells
//! of (replications × seconds per unit) divided by the thread count. Each cell's seconds per
//! unit come from its replication 0, drawn and fitted exactly as the run will (the same
//! stream), alone on one thread (so a fit that would parallelise inside is timed as it runs
//! when every thread has a unit of its own). Cells with n above `max_n` are not timed: their
//! cost is the largest timed n of the same DGP group scaled linearly in n (every estimator
//! here costs at least a pass over the data, so this is a floor rather than a ceiling for
//! solvers that work harder on more data).

use crate::error::{SweepError, failure, input};
use crate::plan::Experiment;
use crate::run::run_unit;

/// One cell's predicted cost.
#[derive(Debug, Clone, PartialEq)]
pub struct CellCost {
    pub key: String,
    pub n: usize,
    pub units: u64,
    /// Seconds per unit (drawing the data plus every fit).
    pub unit_seconds: f64,
    /// Measured on the cell itself (`true`) or scaled from a smaller n of its group.
    pub timed: bool,
    /// Fit seconds per estimator label in the timed unit (scaled when not timed).
    pub fit_seconds: Vec<(String, f64)>,
}

/// The predicted cost of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct CostPlan {
    pub cells: Vec<CellCost>,
    pub threads: usize,
    /// Σ units × seconds per unit.
    pub cpu_seconds: f64,
    /// cpu_seconds / threads.
    pub wall_seconds: f64,
    /// How long the timed units took.
    pub plan_seconds: f64,
}

/// Times one unit per cell (n ≤ `max_n`) and predicts the run at `threads` threads.
pub fn cost_plan(
    exp: &Experiment,
    threads: usize,
    max_n: Option<usize>,
) -> Result<CostPlan, SweepError> {
    if threads == 0 {
        return Err(input("--threads must be at least 1"));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| failure(format!("thread pool: {e}")))?;
    let start = std::time::Instant::now();
    let mut cells: Vec<CellCost> = Vec::new();
    // Timed cells first (every cell with n ≤ max_n, and the smallest n of each group).
    let mut order: Vec<&crate::spec::Cell> = exp.cells.iter().collect();
    order.sort_by_key(|c| (c.group().to_string(), c.n));
    for c in order {
        let smaller = cells
            .iter()
            .filter(|k| k.timed && crate::spec::group_of(&k.key) == c.group())
            .max_by_key(|k| k.n);
        let timed_here = max_n.is_none_or(|m| c.n <= m) || smaller.is_none();
        let cost = if timed_here {
            let rows = pool.install(|| run_unit(exp, c, 0))?;
            let sample = rows.first().map_or(0.0, |r| r.sample_seconds);
            let fits: Vec<(String, f64)> = rows
                .iter()
                .map(|r| (r.estimator.clone(), r.fit_seconds))
                .collect();
            CellCost {
                key: c.key.clone(),
                n: c.n,
                units: exp.replications,
                unit_seconds: sample + fits.iter().map(|f| f.1).sum::<f64>(),
                timed: true,
                fit_seconds: fits,
            }
        } else {
            let base = smaller.expect("checked");
            let f = c.n as f64 / base.n as f64;
            CellCost {
                key: c.key.clone(),
                n: c.n,
                units: exp.replications,
                unit_seconds: base.unit_seconds * f,
                timed: false,
                fit_seconds: base
                    .fit_seconds
                    .iter()
                    .map(|(e, s)| (e.clone(), s * f))
                    .collect(),
            }
        };
        cells.push(cost);
    }
    // Back to grid order.
    cells.sort_by_key(|k| exp.cell(&k.key).map_or(usize::MAX, |c| c.index));
    let cpu_seconds: f64 = cells.iter().map(|c| c.units as f64 * c.unit_seconds).sum();
    Ok(CostPlan {
        cpu_seconds,
        wall_seconds: cpu_seconds / threads as f64,
        threads,
        cells,
        plan_seconds: start.elapsed().as_secs_f64(),
    })
}

impl CostPlan {
    /// The plan as text: one line per cell, then the totals.
    pub fn render(&self, name: &str) -> String {
        let mut s = format!(
            "{:<60} {:>6} {:>12} {:>12}\n",
            "cell", "units", "s per unit", "cell CPU s"
        );
        for c in &self.cells {
            s += &format!(
                "{:<60} {:>6} {:>12} {:>12.1}\n",
                c.key,
                c.units,
                format!("{}{:.3}", if c.timed { "" } else { "~" }, c.unit_seconds),
                c.units as f64 * c.unit_seconds
            );
        }
        let untimed = self.cells.iter().filter(|c| !c.timed).count();
        s += &format!(
            "{name}: {} units, predicted {:.0} s of CPU, about {:.0} s ({:.1} min) of wall time at {} thread(s); timing {} cell(s) took {:.1} s{}\n",
            self.cells.iter().map(|c| c.units).sum::<u64>(),
            self.cpu_seconds,
            self.wall_seconds,
            self.wall_seconds / 60.0,
            self.threads,
            self.cells.len() - untimed,
            self.plan_seconds,
            if untimed > 0 {
                format!(
                    "; ~: {untimed} cell(s) scaled linearly in n from a smaller n of their group"
                )
            } else {
                String::new()
            }
        );
        s
    }
}
