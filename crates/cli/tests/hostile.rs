//! The hostile corpus (`tests/hostile/*.toml`): experiment files that must never start. Each
//! file's first line says where its error must point (`# expect: LINE KEY`). For each one,
//! `signest run` must exit 2 with `FILE:LINE: KEY:` on stderr, without a panic, without
//! leaving an output directory, and without a large allocation: it runs under
//! `ulimit -v 2 GiB` (a process that tried to allocate the memory these files ask for would
//! abort with 134 instead of exiting 2). Wall times are printed; the 10 s bound only catches
//! a hang (the files fail in milliseconds; speed is not gated in tests).

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

#[test]
fn hostile_experiment_files_exit_2_at_file_line_key_and_leave_nothing() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/hostile");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 15, "the corpus has {} files", files.len());
    let out_root = std::env::temp_dir().join(format!("signest-hostile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_root);
    let mut report = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{}: first line must be '# expect: LINE KEY'", f.display()));
        let (line, key) = expect.split_once(' ').unwrap();
        let out = out_root.join(f.file_stem().unwrap());
        let t = Instant::now();
        let o = Command::new("sh")
            .arg("-c")
            .arg("ulimit -v 2097152; exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_signest"))
            .args(["run", f.to_str().unwrap(), "--threads", "2", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        let secs = t.elapsed().as_secs_f64();
        let stderr = String::from_utf8_lossy(&o.stderr);
        let name = f.file_name().unwrap().to_string_lossy();
        let want = format!("{name}:{line}: {key}:");
        assert_eq!(o.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains(&want),
            "{name}: expected {want:?} in {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        assert!(!out.exists(), "{name}: left {} behind", out.display());
        assert!(secs < 10.0, "{name}: took {secs:.1} s");
        report.push(format!("{name}: exit 2 in {:.0} ms", secs * 1000.0));
    }
    assert!(!out_root.exists());
    println!("{}", report.join("\n"));
}
