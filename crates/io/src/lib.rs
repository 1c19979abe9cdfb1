//! # signest-io
//!
//! Reads a data set of pairwise comparisons from CSV (`signest fit --data FILE.csv`), with
//! errors that name the file, the line and the column. Nothing here panics on bad input.
//!
//! ## How columns are recognised
//!
//! The first line is a header. Column names are matched exactly (case-sensitive):
//! - `y` (required): the answer, `1` when the first alternative (a) was preferred, `-1` or `0`
//!   when the second was. Also accepted: `+1`, `1.0`, `-1.0`, `0.0`.
//! - `w` (optional): a weight, a finite number > 0.
//! - `respondent` (optional): any text identifying who answered (panel data).
//! - `task` (optional): an identifier of the choice situation; read as text and ignored.
//! - `NAME_a` with `NAME_b`: the features of the two alternatives; the difference
//!   `NAME_a − NAME_b` becomes feature `NAME`. A `_a` column without its `_b` partner (or the
//!   reverse) is an error.
//! - every other column: a feature difference already taken (any name).
//!
//! Features keep the order in which they first appear in the header. Every feature cell must
//! be a finite number. Blank lines are skipped; fields may be quoted.

use signest_core::Comparisons;
use std::fmt;
use std::io::Read;
use std::path::Path;

/// What went wrong, with where.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadError {
    /// The file (or source name) read.
    pub source: String,
    /// 1-based line number, when the error is tied to a line.
    pub line: Option<u64>,
    /// What was wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.source, l, self.message),
            None => write!(f, "{}: {}", self.source, self.message),
        }
    }
}
impl std::error::Error for ReadError {}

/// A data set read from CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvComparisons {
    pub data: Comparisons,
    /// The original respondent labels, indexed by the dense ids in `data.respondents()`.
    pub respondent_labels: Option<Vec<String>>,
    /// For each feature, how it was formed (e.g. `price = price_a - price_b`).
    pub feature_sources: Vec<String>,
}

enum Feature {
    Difference { col: usize },
    Pair { a: usize, b: usize },
}

/// Reads `path`. See the crate docs for the format.
pub fn read_comparisons_csv(path: &Path) -> Result<CsvComparisons, ReadError> {
    let source = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| ReadError {
        source: source.clone(),
        line: None,
        message: format!("cannot open: {e}"),
    })?;
    parse_comparisons_csv(file, &source)
}

/// Parses CSV text from any reader; `source` names it in errors.
pub fn parse_comparisons_csv<R: Read>(
    reader: R,
    source: &str,
) -> Result<CsvComparisons, ReadError> {
    let err = |line: Option<u64>, message: String| ReadError {
        source: source.to_string(),
        line,
        message,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let header = rdr.headers().map_err(|e| csv_error(source, e))?.clone();
    if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
        return Err(err(
            None,
            "empty file: expected a header line naming the columns".into(),
        ));
    }
    // Header checks.
    for (i, name) in header.iter().enumerate() {
        if name.is_empty() {
            return Err(err(Some(1), format!("column {} has an empty name", i + 1)));
        }
        if let Some(j) = header.iter().take(i).position(|n| n == name) {
            return Err(err(
                Some(1),
                format!(
                    "duplicate column '{name}' (columns {} and {})",
                    j + 1,
                    i + 1
                ),
            ));
        }
    }
    let find = |name: &str| header.iter().position(|n| n == name);
    let y_col = find("y").ok_or_else(|| {
        err(Some(1), format!("no 'y' column (the answer: 1 if the first alternative was preferred, -1 or 0 otherwise); header is: {}", header.iter().collect::<Vec<_>>().join(",")))
    })?;
    let w_col = find("w");
    let r_col = find("respondent");
    let task_col = find("task");
    let mut features: Vec<Feature> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut sources: Vec<String> = Vec::new();
    let mut used = vec![false; header.len()];
    for c in [Some(y_col), w_col, r_col, task_col].into_iter().flatten() {
        used[c] = true;
    }
    for (i, name) in header.iter().enumerate() {
        if used[i] {
            continue;
        }
        let pair = name
            .strip_suffix("_a")
            .map(|s| (s, "_b"))
            .or_else(|| name.strip_suffix("_b").map(|s| (s, "_a")));
        match pair {
            Some((stem, other)) if !stem.is_empty() => {
                let partner = format!("{stem}{other}");
                let j = find(&partner).ok_or_else(|| {
                    err(Some(1), format!("column '{name}' has no partner '{partner}' (paired columns NAME_a, NAME_b give the feature NAME = NAME_a - NAME_b)"))
                })?;
                let (a, b) = if other == "_b" { (i, j) } else { (j, i) };
                used[a] = true;
                used[b] = true;
                if names.iter().any(|n| n == stem) {
                    return Err(err(
                        Some(1),
                        format!(
                            "feature '{stem}' appears both as a column and as the pair {stem}_a/{stem}_b"
                        ),
                    ));
                }
                features.push(Feature::Pair { a, b });
                names.push(stem.to_string());
                sources.push(format!("{stem} = {stem}_a - {stem}_b"));
            }
            _ => {
                used[i] = true;
                if names.iter().any(|n| n == name) {
                    return Err(err(
                        Some(1),
                        format!(
                            "feature '{name}' appears both as a column and as the pair {name}_a/{name}_b"
                        ),
                    ));
                }
                features.push(Feature::Difference { col: i });
                names.push(name.to_string());
                sources.push(name.to_string());
            }
        }
    }
    let d = features.len();
    if d == 0 {
        return Err(err(Some(1), "no feature columns: besides y, w, respondent and task, give difference columns or NAME_a/NAME_b pairs".into()));
    }
    let mut z = Vec::new();
    let mut y = Vec::new();
    let mut w = Vec::new();
    let mut resp_ids: Vec<u32> = Vec::new();
    let mut resp_labels: Vec<String> = Vec::new();
    let mut resp_index = std::collections::HashMap::new();
    let mut record = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(source, e)),
        }
        let line = record.position().map(|p| p.line());
        let number = |col: usize| -> Result<f64, ReadError> {
            let cell = &record[col];
            let v: f64 = cell.parse().map_err(|_| {
                err(
                    line,
                    format!(
                        "column '{}': expected a number, found '{}'",
                        &header[col], cell
                    ),
                )
            })?;
            if !v.is_finite() {
                return Err(err(
                    line,
                    format!(
                        "column '{}': '{}' is not a finite number",
                        &header[col], cell
                    ),
                ));
            }
            Ok(v)
        };
        let label = number(y_col).map_err(|mut e| {
            e.message = format!(
                "column 'y': expected 1, 0 or -1, found '{}'",
                &record[y_col]
            );
            e
        })?;
        y.push(match label {
            1.0 => 1.0,
            0.0 | -1.0 => -1.0,
            _ => {
                return Err(err(
                    line,
                    format!(
                        "column 'y': expected 1, 0 or -1, found '{}'",
                        &record[y_col]
                    ),
                ));
            }
        });
        for f in &features {
            z.push(match *f {
                Feature::Difference { col } => number(col)?,
                Feature::Pair { a, b } => {
                    let v = number(a)? - number(b)?;
                    if !v.is_finite() {
                        return Err(err(
                            line,
                            format!("columns '{}' - '{}' overflow", &header[a], &header[b]),
                        ));
                    }
                    v
                }
            });
        }
        if let Some(c) = w_col {
            let v = number(c)?;
            if v <= 0.0 {
                return Err(err(
                    line,
                    format!("column 'w': weights must be > 0, found '{}'", &record[c]),
                ));
            }
            w.push(v);
        }
        if let Some(c) = r_col {
            let key = record[c].to_string();
            if key.is_empty() {
                return Err(err(line, "column 'respondent': empty id".into()));
            }
            let next = resp_labels.len() as u32;
            let id = *resp_index.entry(key.clone()).or_insert_with(|| {
                resp_labels.push(key);
                next
            });
            resp_ids.push(id);
        }
    }
    if y.len() < 2 {
        return Err(err(
            None,
            format!("need at least 2 data rows, found {}", y.len()),
        ));
    }
    let internal = |e: signest_core::DataError| err(None, e.to_string());
    let mut data = Comparisons::new(d, z, y)
        .map_err(internal)?
        .with_feature_names(names)
        .map_err(internal)?;
    if w_col.is_some() {
        data = data.with_weights(w).map_err(internal)?;
    }
    let respondent_labels = if r_col.is_some() {
        data = data.with_respondents(resp_ids).map_err(internal)?;
        Some(resp_labels)
    } else {
        None
    };
    Ok(CsvComparisons {
        data,
        respondent_labels,
        feature_sources: sources,
    })
}

fn csv_error(source: &str, e: csv::Error) -> ReadError {
    let line = e.position().map(|p| p.line());
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("expected {expected_len} fields (as in the header), found {len}")
        }
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8 text".to_string(),
        csv::ErrorKind::Io(io) => format!("read error: {io}"),
        _ => e.to_string(),
    };
    ReadError {
        source: source.to_string(),
        line,
        message,
    }
}

#[cfg(test)]
mod tests;
