//! The benchmark harness is not run in CI (it takes minutes and wants quiet
//! cores), so this checks it cannot rot silently: its scripts parse, and its
//! report turns measurements into the table docs/BENCHMARKS.md shows, and
//! the peers' code parses (Python, JavaScript). The ceiling peer is a
//! workspace member, so CI compiles it.
#![cfg(feature = "ssr")]

use std::process::Command;

fn succeeds(program: &str, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().unwrap_or_else(|error| panic!("{program}: {error}"));
    assert!(output.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_harness_scripts_parse() {
    succeeds("bash", &["-n", "scripts/bench.sh"]);
    succeeds("bash", &["-n", "bench/scale-out/run.sh"]);
    succeeds("bash", &["-n", "bench/common.sh"]);
    succeeds("bash", &["-n", "bench/instructions.sh"]);
    let cache = std::env::temp_dir().join(format!("idweb-bench-pycache-{}", std::process::id()));
    let cache = cache.display().to_string();
    succeeds("python3", &["-X", &format!("pycache_prefix={cache}"), "-m", "py_compile", "bench/sign_in.py", "bench/report.py"]);
}

#[test]
fn the_peers_code_parses() {
    let cache = std::env::temp_dir().join(format!("idweb-bench-pycache-peers-{}", std::process::id()));
    succeeds("python3", &["-X", &format!("pycache_prefix={}", cache.display()), "-m", "py_compile", "bench/peers/flask/app.py"]);
    succeeds("node", &["--check", "bench/peers/express/app.mjs"]);
    let lock: serde_json::Value = serde_json::from_str(&std::fs::read_to_string("bench/peers/express/package-lock.json").unwrap()).unwrap();
    assert_eq!(lock["packages"][""]["dependencies"]["@azure/msal-node"], "7.2.3", "the lock file is the package's");
}

#[test]
fn the_report_gives_medians_spreads_and_ratios_to_the_ceiling() {
    let results = std::env::temp_dir().join(format!("idweb-bench-results-{}.tsv", std::process::id()));
    // system, round, connections, requests, seconds, p50, p99, CPU s, RSS kB (10 users), RSS kB (all), users
    std::fs::write(
        &results,
        "idweb\t1\t8\t20000\t10.0\t1.0\t3.0\t3.0\t20480\t40960\t1000\n\
         ceiling\t1\t8\t30000\t10.0\t0.5\t1.5\t1.5\t0\t10240\t0\n\
         ceiling\t2\t8\t30000\t10.0\t0.5\t1.5\t1.5\t0\t10240\t0\n\
         idweb\t2\t8\t20000\t10.0\t1.0\t3.0\t3.2\t20480\t40960\t1000\n",
    )
    .unwrap();
    let table = succeeds("python3", &["bench/report.py", &results.display().to_string(), "ceiling"]);
    std::fs::remove_file(&results).unwrap();
    // idweb: 3.0 and 3.2 CPU seconds for 20 000 requests = 150 and 160 µs, median 155; the ceiling 50 µs.
    assert!(table.contains("| idweb | 8 | 2000 | 1.00 | 3.00 | 155 (150–160) | 3.10x | 20.0 | 40.0 (1000 users) |"), "{table}");
    assert!(table.contains("| ceiling | 8 | 3000 | 0.50 | 1.50 | 50 | 1.00x | — | 10.0 (no sessions) |"), "{table}");
}
