//! The `signest` command line: argument parsing and printing only; the work is in the library.

use clap::{Parser, Subcommand};
use signest::CliError;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "signest",
    version,
    about = "The sign estimator for heterogeneous pairwise preferences, and a Monte Carlo harness that checks what is claimed about it."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fit one estimator on a CSV of pairwise comparisons.
    ///
    /// CSV format: a header line, then one comparison per line. Columns are recognised by
    /// name: `y` (required) is 1 when the first alternative was preferred and -1 or 0
    /// otherwise; `w` (optional) is a weight > 0; `respondent` (optional) identifies who
    /// answered; a pair `NAME_a`, `NAME_b` gives the feature NAME = NAME_a - NAME_b; every
    /// other column is a feature difference already taken. Errors name the file, line and
    /// column and exit with code 2.
    Fit {
        /// The CSV file.
        #[arg(long)]
        data: PathBuf,
        /// bt (Bradley–Terry / logistic MLE), sign (0-1 loss), hinge, or the panel estimators
        /// em (latent-class logit) and peruser (averaged per-respondent ridge logits), which
        /// need a `respondent` column.
        #[arg(long)]
        estimator: String,
        /// The estimator's solver (README's table lists them): e.g. for bt newton (default) or
        /// subsampled (the same optimum in a few fused passes); for sign exact (certified;
        /// d >= 3 by branch and bound), smooth or anneal (heuristic).
        #[arg(long)]
        solver: Option<String>,
        /// Print exactly one JSON object on stdout.
        #[arg(long)]
        json: bool,
        /// Standardise each non-constant column first: divide by its sd, and subtract its mean
        /// when a constant (intercept) column exists to absorb it. Directions are reported in
        /// standardised units; the model is unchanged up to that reparametrisation.
        #[arg(long)]
        standardize: bool,
        /// Branch-and-bound node budget (sign exact, d >= 3).
        #[arg(long)]
        max_nodes: Option<u64>,
        /// Branch-and-bound time budget in seconds (sign exact, d >= 3).
        #[arg(long)]
        time_limit: Option<f64>,
        /// Branch-and-bound memory budget for open nodes, in MiB (sign exact, d >= 3; default
        /// 4096). When the open nodes fill it the search stops with its proven gap, as when
        /// the node or time budget runs out.
        #[arg(long, value_name = "MIB")]
        max_memory: Option<u64>,
        /// Seed of the smooth solver's random starts.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// sign anneal: `thorough` (the default) or `fast` (bt start by the subsampled solver,
        /// sigmoid tails cut at 18, one polish round, early stage ends).
        #[arg(long)]
        profile: Option<String>,
    },
    /// Run a Monte Carlo sweep described by an experiment file (see docs/experiments.md).
    Run {
        /// The experiment file (TOML).
        experiment: PathBuf,
        /// Output directory (default results/<name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Worker threads (default: all cores). Results do not depend on it.
        #[arg(long)]
        threads: Option<usize>,
        /// Run only shard K of N (K/N); combine shards with `signest merge`.
        #[arg(long)]
        shard: Option<String>,
        /// Finish an interrupted run in --out.
        #[arg(long)]
        resume: bool,
        /// Take over every unit (cell, replication) that this finished or interrupted results
        /// directory already holds (e.g. after raising replications or adding grid points);
        /// three reused units are recomputed first and must match. --out must be new.
        #[arg(long)]
        reuse: Option<PathBuf>,
        /// Write nothing: time one unit per cell (replication 0, on one thread) and print the
        /// units per cell and the predicted wall time at --threads, to decide whether to shard.
        #[arg(long)]
        dry_run: bool,
        /// With --dry-run: time only cells with n <= this; larger cells are scaled linearly in
        /// n from the largest timed n of their DGP group.
        #[arg(long, requires = "dry_run")]
        dry_run_max_n: Option<usize>,
    },
    /// Merge the output directories of the shards of one experiment.
    Merge {
        /// Shard output directories.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where to write the merged results.
        #[arg(long)]
        out: PathBuf,
    },
    /// Recompute one replication of one cell alone and print its runs.csv rows.
    Replay {
        experiment: PathBuf,
        /// The cell key, as in the `cell` column of runs.csv (e.g. n=1000/d=2/heterogeneity=1).
        #[arg(long)]
        cell: String,
        /// The replication number.
        #[arg(long)]
        rep: u64,
        /// Also print (to stderr) the 0-1 loss of the true direction u* on the same data: a
        /// sign fit with a higher loss01 missed the 0-1 minimum.
        #[arg(long)]
        truth: bool,
    },
    /// Replay a sample of a finished results directory's units from the directory alone and
    /// compare them with its runs.csv (every column but `*_seconds`): does it regenerate?
    /// Exits 1 when a unit differs.
    Audit {
        dir: PathBuf,
        /// Units to replay.
        #[arg(long, default_value_t = 3)]
        units: usize,
        /// Only cells with n·d at most this (replay cost).
        #[arg(long, default_value_t = 2_000_000)]
        max_size: u64,
    },
    /// The effort check of heuristic sign solvers: a sample of a finished directory's units
    /// refitted at FACTOR times the default effort (starts, iterations, polish rounds); prints
    /// how much the 0-1 loss still drops and writes DIR/effort.csv.
    Effort {
        dir: PathBuf,
        /// Units to refit.
        #[arg(long, default_value_t = 10)]
        units: usize,
        /// Effort multiplier.
        #[arg(long, default_value_t = 10.0)]
        factor: f64,
        /// Only cells with n·d at most this (refit cost).
        #[arg(long, default_value_t = 2_000_000)]
        max_size: u64,
    },
    /// Fill the loss01_truth and shortfall columns of a results directory written before they
    /// existed (each unit's data drawn again from its own stream; no fit is redone).
    Truth { dir: PathBuf },
    /// Population targets (SPEC §4) of every DGP of an experiment: bt's and sign's limits and
    /// their bias from u*, with numerical errors. Writes targets.csv.
    Targets {
        experiment: PathBuf,
        /// Output directory (default results/<name>).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Find the value of one [dgp] key at which a population-target statistic equals a target
    /// (root finding on the targets of the experiment's first DGP group), and write the
    /// calibrated experiment file (comments kept).
    Calibrate {
        experiment: PathBuf,
        /// The numeric [dgp] key to solve for (e.g. coupling).
        #[arg(long)]
        key: String,
        /// STAT=VALUE, STAT one of bt|sign . bias_deg|sigma_bias_deg|disagreement
        /// (e.g. bt.disagreement=0.12).
        #[arg(long)]
        target: String,
        /// The bracket LO:HI searched; the statistic minus VALUE must change sign over it.
        #[arg(long)]
        range: String,
        /// Where to write the calibrated experiment (default: print it).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verdicts for the claims of SPEC §5 on a finished run's directory: writes verdicts.md and
    /// verdicts.json (and targets.csv if missing). Exits 1 when a claim that the experiment
    /// declares as expected fails.
    Verify {
        dir: PathBuf,
        /// Use this experiment file (same cells and estimators) instead of DIR/experiment.toml,
        /// for example for a `[verify]` section added after the run.
        #[arg(long)]
        experiment: Option<PathBuf>,
    },
    /// The accuracy gate run in CI: runs experiments/ci.toml and compares it with the committed
    /// baseline (mean errors within k combined MCSEs, MCSEs sane, verdicts unchanged, replays
    /// identical). Ends with `check: N passed, M failed`; exits 1 when anything failed.
    Check {
        #[arg(long, default_value = "experiments/ci.toml")]
        experiment: PathBuf,
        #[arg(long, default_value = "results/ci/baseline.json")]
        baseline: PathBuf,
        /// Where this run's results go.
        #[arg(long, default_value = "results/ci/latest")]
        out: PathBuf,
        /// Rewrite the baseline from this run (deliberately; needs --reason). The new baseline
        /// keeps the old one's history and records the reason, the commit and which items moved.
        #[arg(long, requires = "reason")]
        update_baseline: bool,
        /// Why the baseline is rewritten (e.g. "bt solver change: numbers move within MCSEs").
        #[arg(long, requires = "update_baseline")]
        reason: Option<String>,
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Figures (convergence, heterogeneity, dimension, disagreement, fit time, assumption
    /// boundary) and report.md for a finished run's directory (run `verify` first for the
    /// verdict table and the targets' bias lines). Given a directory of results directories
    /// (e.g. results/paper/persona), writes one report.md with the headline table across them.
    Report {
        dir: PathBuf,
        /// Comma-separated: png, svg.
        #[arg(long, default_value = "png,svg")]
        format: String,
    },
    /// Every estimator on one real data set: directions, angles between them, an implied ratio
    /// of coefficients, and held-out accuracy and log-loss by k-fold cross-validation split by
    /// respondent. Writes fits.csv, angles.csv, crossval.csv, crossval_summary.csv, report.md.
    Realdata {
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 5)]
        folds: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// NUM:DEN[:FACTOR]: report FACTOR·β_NUM/β_DEN (e.g. time:price:60, a value of time
        /// per hour in price units).
        #[arg(long)]
        ratio: Option<String>,
        /// Time budget (seconds) of each exact sign fit.
        #[arg(long, default_value_t = 20.0)]
        time_limit: f64,
    },
    /// The SPEC reference case (d = 2, two types, logistic noise): mean angular error of every
    /// estimator over a few replications.
    Demo {
        #[arg(long, default_value_t = 20_000)]
        n: usize,
        #[arg(long, default_value_t = 10)]
        reps: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("signest: error: {e}");
            ExitCode::from(e.code as u8)
        }
    }
}

fn run(cmd: Command) -> Result<(), CliError> {
    match cmd {
        Command::Fit {
            data,
            estimator,
            solver,
            json,
            standardize,
            max_nodes,
            time_limit,
            max_memory,
            seed,
            profile,
        } => {
            let args = signest::fit::FitArgs {
                data,
                estimator,
                solver,
                standardize,
                max_nodes,
                time_limit,
                max_memory,
                seed,
                profile,
            };
            let out = signest::fit::run(&args)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&out).map_err(|e| CliError {
                        code: 1,
                        message: e.to_string()
                    })?
                );
            } else {
                print!("{}", signest::fit::render_text(&out));
            }
        }
        Command::Run {
            experiment,
            out,
            threads,
            shard,
            resume,
            reuse,
            dry_run,
            dry_run_max_n,
        } => {
            if dry_run {
                print!(
                    "{}",
                    signest::sweep::dry_run(&experiment, threads, dry_run_max_n)?
                );
                return Ok(());
            }
            signest::sweep::run(
                &experiment,
                out,
                threads,
                shard.as_deref(),
                resume,
                reuse.as_deref(),
            )?;
        }
        Command::Merge { dirs, out } => {
            let n = signest_sweep::merge::merge(&dirs, &out)?;
            println!(
                "merged {} shard directories ({n} rows) into {}",
                dirs.len(),
                out.display()
            );
        }
        Command::Replay {
            experiment,
            cell,
            rep,
            truth,
        } => {
            print!("{}", signest::sweep::replay(&experiment, &cell, rep)?);
            if truth {
                eprintln!(
                    "loss01 at u*: {}",
                    signest::sweep::truth_loss01(&experiment, &cell, rep)?
                );
            }
        }
        Command::Audit {
            dir,
            units,
            max_size,
        } => {
            print!("{}", signest::sweep::audit(&dir, units, max_size)?);
        }
        Command::Effort {
            dir,
            units,
            factor,
            max_size,
        } => {
            print!("{}", signest::sweep::effort(&dir, units, factor, max_size)?);
        }
        Command::Truth { dir } => {
            let rd = signest_sweep::ResultsDir::open(&dir)?;
            let n = signest_sweep::backfill_truth(&rd)?;
            println!(
                "{}: loss01_truth filled for {n} units{}",
                dir.display(),
                if n == 0 { " (already present)" } else { "" }
            );
        }
        Command::Targets { experiment, out } => {
            print!("{}", signest::theory::targets(&experiment, out)?);
        }
        Command::Calibrate {
            experiment,
            key,
            target,
            range,
            out,
        } => {
            print!(
                "{}",
                signest::theory::calibrate(&experiment, &key, &target, &range, out.as_deref())?
            );
        }
        Command::Verify { dir, experiment } => {
            print!("{}", signest::theory::verify(&dir, experiment.as_deref())?);
        }
        Command::Check {
            experiment,
            baseline,
            out,
            update_baseline,
            reason,
            threads,
        } => {
            let update = if update_baseline {
                reason.as_deref()
            } else {
                None
            };
            print!(
                "{}",
                signest::theory::check(&experiment, &baseline, &out, update, threads)?
            );
        }
        Command::Report { dir, format } => {
            print!("{}", signest::theory::report(&dir, &format)?);
        }
        Command::Realdata {
            data,
            out,
            folds,
            seed,
            ratio,
            time_limit,
        } => {
            print!(
                "{}",
                signest::theory::realdata(&data, &out, folds, seed, ratio.as_deref(), time_limit)?
            );
        }
        Command::Demo { n, reps, seed } => {
            println!(
                "SPEC reference case: d = 2, types (3,0) and (-1,1), z ~ N(0,I), logistic noise; n = {n}, {reps} replications"
            );
            println!("{:<14} {:>22}", "estimator", "angular error (deg)");
            for (name, mean, mcse) in signest::demo::run(n, reps, seed)? {
                println!("{name:<14} {mean:>12.3} ± {mcse:.3} (MCSE)");
            }
        }
    }
    Ok(())
}
