//! `personas_file` and `covariance_file`: a twin panel and a Σ_x written to CSV files and
//! read back give the same DGP and the same population targets (all three metrics) as the
//! panel generated in code; a run keeps copies of both files and resolves from them.

use signest_sweep::{Experiment, ResultsDir, RunOptions};
use signest_theory::Study;
use signest_theory::verdict::experiment_targets;

const GENERATED: &str = r#"
name = "twins_code"
seed = 21
replications = 2
[dgp]
population = "twins"
features = "spectral"
alpha = 1.5
personas = 300
signal = 3.0
heterogeneity = 3.0
value_axes = 2
coupling = 0.5
intensity_sigma = 0.8
[grid]
n = [400]
d = [8]
[[estimator]]
name = "bt"
[verify]
expect = []
"#;

const FROM_FILES: &str = r#"
name = "twins_files"
seed = 21
replications = 2
[dgp]
population = "twins"
personas_file = "PERSONAS"
covariance_file = "COVARIANCE"
[grid]
n = [400]
[[estimator]]
name = "bt"
[verify]
expect = []
"#;

#[test]
fn files_give_the_targets_of_the_panel_generated_in_code() {
    let dir = std::env::temp_dir().join(format!("signest-twin-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let code = Experiment::parse(GENERATED, "code.toml").unwrap();
    let dgp = code.dgp_for(&code.cells[0]).unwrap();
    let signest_sim::Population::Personas { d, betas } = &dgp.population else {
        panic!("twins are a persona panel");
    };
    assert_eq!(*d, 8);
    // The panel, one persona per row under a header, and Σ_x = Σ_z / 2 (exact in binary).
    let mut p = (1..=8)
        .map(|j| format!("b{j}"))
        .collect::<Vec<_>>()
        .join(",")
        + "\n";
    for row in betas.chunks_exact(8) {
        p += &row
            .iter()
            .map(|x| format!("{x:?}"))
            .collect::<Vec<_>>()
            .join(",");
        p += "\n";
    }
    let cov_z = dgp.features.covariance();
    let mut c = String::new();
    for row in cov_z.chunks_exact(8) {
        c += &row
            .iter()
            .map(|x| format!("{:?}", x / 2.0))
            .collect::<Vec<_>>()
            .join(",");
        c += "\n";
    }
    let (pf, cf) = (dir.join("personas.csv"), dir.join("sigma_x.csv"));
    std::fs::write(&pf, p).unwrap();
    std::fs::write(&cf, c).unwrap();
    let text = FROM_FILES
        .replace("PERSONAS", pf.to_str().unwrap())
        .replace("COVARIANCE", cf.to_str().unwrap());
    let files = Experiment::parse(&text, "files.toml").unwrap();
    assert_eq!(files.cells[0].d, 8, "d comes from the files");
    let fdgp = files.dgp_for(&files.cells[0]).unwrap();
    assert_eq!(
        fdgp.population, dgp.population,
        "the panel is the file's rows, bit for bit"
    );
    // Σ_z from the file's Cholesky root equals the spectral Σ_z up to rounding.
    let fcov = fdgp.features.covariance();
    let worst = fcov
        .iter()
        .zip(&cov_z)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-12, "Σ_z differs by {worst:e}");

    let t_code = experiment_targets(&Study::new(code).unwrap()).unwrap();
    let t_files = experiment_targets(&Study::new(files.clone()).unwrap()).unwrap();
    assert_eq!(t_code.len(), 2);
    for (a, b) in t_code.iter().zip(&t_files) {
        assert_eq!(
            (a.estimator.as_str(), a.method.as_str()),
            (b.estimator.as_str(), "gaussian")
        );
        // Both are exact routes on the same Σ up to 1e-12 relative rounding; tolerance: the
        // sum of their stated numerical errors plus 1e-8° for that rounding.
        let tol = a.error_deg + b.error_deg + 1e-8;
        assert!(
            (a.bias_deg - b.bias_deg).abs() <= tol,
            "{}: {} vs {}",
            a.estimator,
            a.bias_deg,
            b.bias_deg
        );
        assert!((a.sigma_bias_deg - b.sigma_bias_deg).abs() <= tol);
        assert!((a.disagreement - b.disagreement).abs() <= tol / 180.0);
    }

    // A run keeps both files and resolves from its own copies.
    let out = dir.join("out");
    signest_sweep::run(
        &files,
        &RunOptions {
            out: out.clone(),
            threads: Some(1),
            shard: None,
            resume: false,
            progress: false,
        },
    )
    .unwrap();
    std::fs::remove_file(&pf).unwrap();
    std::fs::remove_file(&cf).unwrap();
    let again = ResultsDir::open(&out).unwrap().experiment().unwrap();
    assert_eq!(again.twin_personas, files.twin_personas);
    assert_eq!(again.covariance, files.covariance);
    assert_eq!(
        again.dgp_for(&again.cells[0]).unwrap().population,
        fdgp.population
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
