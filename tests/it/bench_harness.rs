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
    for part in ["bench/profile.sh", "bench/sign-in.sh", "bench/startup.sh", "bench/bundle.sh", "bench/peers.sh"] {
        succeeds("bash", &["-n", part]);
    }
    let cache = std::env::temp_dir().join(format!("idweb-bench-pycache-{}", std::process::id()));
    let cache = cache.display().to_string();
    succeeds("python3", &["-X", &format!("pycache_prefix={cache}"), "-m", "py_compile", "bench/sign_in.py", "bench/report.py", "bench/report_sign_in.py", "bench/same_page.py", "bench/startup.py"]);
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
    // system, round, connections, requests, seconds, p50, p99, CPU s, RSS kB (10 users), RSS kB (all), users, errors
    std::fs::write(
        &results,
        "idweb\t1\t8\t20000\t10.0\t1.0\t3.0\t3.0\t20480\t40960\t1000\t0\n\
         ceiling\t1\t8\t30000\t10.0\t0.5\t1.5\t1.5\t0\t10240\t0\t2\n\
         ceiling\t2\t8\t30000\t10.0\t0.5\t1.5\t1.5\t0\t10240\t0\t3\n\
         idweb\t2\t8\t20000\t10.0\t1.0\t3.0\t3.2\t20480\t40960\t1000\t0\n",
    )
    .unwrap();
    let table = succeeds("python3", &["bench/report.py", &results.display().to_string(), "ceiling"]);
    std::fs::remove_file(&results).unwrap();
    // idweb: 3.0 and 3.2 CPU seconds for 20 000 requests = 150 and 160 µs, median 155; the ceiling 50 µs.
    assert!(table.contains("| idweb | 8 | 2000 | 1.00 | 3.00 | 155 (150–160) | 3.10x | 0 | 20.0 | 40.0 (1000 users) |"), "{table}");
    assert!(table.contains("| ceiling | 8 | 3000 | 0.50 | 1.50 | 50 | 1.00x | 5 | — | 10.0 (no sessions) |"), "{table}");
}

#[test]
fn the_sign_in_report_gives_cpu_per_completed_sign_in_against_the_ceiling() {
    let results = std::env::temp_dir().join(format!("idweb-bench-sign-in-{}.tsv", std::process::id()));
    // system, round, completed, failed, seconds, per second, p50, p99, max, CPU s before, after, RSS kB
    std::fs::write(
        &results,
        "idweb\t1\t1000\t0\t8.0\t125.0\t100.0\t200.0\t250.0\t10.0\t11.0\t20480\n\
         ceiling\t1\t1000\t0\t7.0\t142.9\t90.0\t150.0\t180.0\t5.0\t5.8\t8192\n\
         ceiling\t2\t1000\t0\t7.0\t142.9\t90.0\t150.0\t180.0\t6.0\t6.8\t8192\n\
         idweb\t2\t998\t2\t8.0\t124.8\t100.0\t210.0\t260.0\t12.0\t13.2\t20480\n",
    )
    .unwrap();
    let table = succeeds("python3", &["bench/report_sign_in.py", &results.display().to_string(), "ceiling"]);
    std::fs::remove_file(&results).unwrap();
    // idweb: 1.0 s for 1000 and 1.2 s for 998 sign-ins = 1.00 and 1.20 ms, median 1.10; the ceiling 0.80 ms.
    assert!(table.contains("| idweb | 1998 (2) | 125 | 100.0 | 200.0–210.0 | 1.10 (1.00–1.20) | 1.38x | 20.0 |"), "{table}");
    assert!(table.contains("| ceiling | 2000 (0) | 143 | 90.0 | 150.0 | 0.80 | 1.00x | 8.0 |"), "{table}");
}

#[test]
fn the_page_check_tells_a_different_page_from_the_same_one() {
    let dir = std::env::temp_dir().join(format!("idweb-bench-page-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = |name: &str, title: &str, user: &str, padding: usize| {
        let path = dir.join(name);
        let html = format!("<html><head><title>{title}</title></head><body><span class=\"account-name\">{user}</span><dl><dd>{user}</dd><dd>x</dd></dl>{}</body></html>", " ".repeat(padding));
        std::fs::write(&path, html).unwrap();
        path.display().to_string()
    };
    let reference = page("reference.html", "Profile · idweb", "Adele", 0);
    let same = page("same.html", "Profile · idweb", "Adele", 0);
    let other_user = page("other.html", "Profile · idweb", "Alex", 0);
    let longer = page("longer.html", "Profile · idweb", "Adele", 400);
    succeeds("python3", &["bench/same_page.py", &reference, &same]);
    for different in [&other_user, &longer] {
        let output = Command::new("python3").args(["bench/same_page.py", &reference, different]).output().unwrap();
        assert!(!output.status.success(), "{different} passed as the same page");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
