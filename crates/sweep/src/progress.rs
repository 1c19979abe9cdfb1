//! Progress of a run on stderr (indicatif): a bar on a terminal, a plain line every 10 s
//! otherwise. The ETA is weighted by each unit's expected cost, not its count: a unit of a
//! cell costs what that cell's finished units cost on average; a cell with none finished yet
//! costs n·d times the seconds per row·dimension seen so far over all cells (fits grow at least
//! linearly in n·d, so this errs on the short side only for superlinear solvers, and is
//! corrected as soon as one unit of the cell finishes).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

struct CellCost {
    /// n·d of the cell.
    size: f64,
    /// Units of the cell still to do.
    remaining: u64,
    finished: u64,
    seconds: f64,
}

struct State {
    cells: Vec<CellCost>,
    /// Busy seconds and n·d of all finished units.
    seconds: f64,
    size: f64,
    last_line: Instant,
}

pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    on: bool,
    name: String,
    total: u64,
    threads: usize,
    start: Instant,
    state: Mutex<State>,
}

impl Progress {
    /// `units_per_cell[c]` = units of cell c this run will compute, `sizes[c]` = its n·d.
    pub(crate) fn new(
        on: bool,
        name: &str,
        units_per_cell: &[u64],
        sizes: &[f64],
        threads: usize,
    ) -> Progress {
        let total: u64 = units_per_cell.iter().sum();
        let tty = std::io::stderr().is_terminal();
        let bar = (on && tty).then(|| {
            let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} units, {elapsed} elapsed, {msg}",
                )
                .expect("template")
                .progress_chars("#>-"),
            );
            b.set_prefix(name.to_string());
            b.enable_steady_tick(Duration::from_millis(500));
            b
        });
        Progress {
            bar,
            on,
            name: name.to_string(),
            total,
            threads: threads.max(1),
            start: Instant::now(),
            state: Mutex::new(State {
                cells: units_per_cell
                    .iter()
                    .zip(sizes)
                    .map(|(u, s)| CellCost {
                        size: *s,
                        remaining: *u,
                        finished: 0,
                        seconds: 0.0,
                    })
                    .collect(),
                seconds: 0.0,
                size: 0.0,
                last_line: Instant::now(),
            }),
        }
    }

    /// Expected seconds of work left (thread-seconds divided by threads).
    fn eta(state: &State, threads: usize) -> Option<f64> {
        let rate = (state.size > 0.0).then(|| state.seconds / state.size)?;
        let left: f64 = state
            .cells
            .iter()
            .map(|c| {
                let per_unit = if c.finished > 0 {
                    c.seconds / c.finished as f64
                } else {
                    rate * c.size
                };
                per_unit * c.remaining as f64
            })
            .sum();
        Some(left / threads as f64)
    }

    /// A unit of cell `cell` finished after `seconds` of fitting and sampling; `done` units of
    /// this run are finished in all.
    pub(crate) fn unit_done(&self, cell: usize, seconds: f64, done: u64) {
        if !self.on {
            return;
        }
        let mut st = self.state.lock().expect("progress");
        let c = &mut st.cells[cell];
        c.remaining = c.remaining.saturating_sub(1);
        c.finished += 1;
        c.seconds += seconds;
        let size = c.size;
        st.seconds += seconds;
        st.size += size;
        let eta = Progress::eta(&st, self.threads);
        let eta_text = eta.map_or("ETA unknown".to_string(), |e| {
            format!("ETA {}", fmt_secs(e))
        });
        match &self.bar {
            Some(b) => {
                b.set_position(done);
                b.set_message(eta_text);
            }
            None => {
                if st.last_line.elapsed() >= Duration::from_secs(10) || done == self.total {
                    st.last_line = Instant::now();
                    eprintln!(
                        "{}: {done}/{} units ({:.0}%), {} elapsed, {eta_text}",
                        self.name,
                        self.total,
                        100.0 * done as f64 / self.total.max(1) as f64,
                        fmt_secs(self.start.elapsed().as_secs_f64())
                    );
                }
            }
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish();
        }
    }
}

fn fmt_secs(s: f64) -> String {
    if !s.is_finite() {
        "?".into()
    } else if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_weights_units_by_their_cells_cost() {
        // Two cells: a cheap one (n·d = 1000) and an expensive one (n·d = 100000), ten units
        // each. After one cheap unit of 0.01 s the expensive cell is priced by the rate:
        // 10 × 0.01 × 100 = 10 s, plus 9 cheap units × 0.01 s.
        let p = Progress::new(true, "t", &[10, 10], &[1000.0, 100_000.0], 1);
        p.unit_done(0, 0.01, 1);
        let st = p.state.lock().unwrap();
        let eta = Progress::eta(&st, 1).unwrap();
        assert!((eta - (0.09 + 10.0)).abs() < 1e-9, "{eta}");
        // A count-based ETA would have said 19 × 0.01 = 0.19 s.
        drop(st);
        // Once an expensive unit is seen, its own time is used: 9 × 2 s + 9 × 0.01 s.
        p.unit_done(1, 2.0, 2);
        let st = p.state.lock().unwrap();
        let eta = Progress::eta(&st, 1).unwrap();
        assert!((eta - (18.0 + 0.09)).abs() < 1e-9, "{eta}");
        // Two threads halve it.
        assert!((Progress::eta(&st, 2).unwrap() - eta / 2.0).abs() < 1e-12);
    }
}
