//! `pmemvm-fuzz [--target NAME|all] [--execs N] [--seed S] [--timeout-ms MS]
//! [--mem-mib MIB] [--out DIR]`: runs each target for N executions, in a
//! child process (the worker) that the parent restarts after anything that
//! kills it (an abort, an allocation over the cap, a fatal signal, a hang),
//! and prints per target the executions, the speed and the failures. Every
//! failing input is saved as `DIR/TARGET/HASH` (by default
//! `vmm/fuzz/regressions`, which the crate's tests replay). Exit status 0:
//! no failure; 1: failures; 2: bad usage.

use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use pmemvm_fuzz::targets::{self, SELF_TESTS, TARGETS, Target};
use pmemvm_fuzz::{
    DEFAULT_MEM_CAP, DEFAULT_TIMEOUT, HANG_EXIT, Options, read_crash_file, save_failure, say,
};

const USAGE: &str = "usage: pmemvm-fuzz [--target NAME|all] [--execs N] [--seed S] [--timeout-ms MS] [--mem-mib MIB] [--out DIR] [--list]";

#[derive(Debug, Clone)]
struct Args {
    target: String,
    execs: u64,
    seed: u64,
    timeout: Duration,
    mem_cap: usize,
    out: PathBuf,
    worker: bool,
    replay: bool,
    crash_input: Option<PathBuf>,
    crash_reason: Option<PathBuf>,
    list: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        target: "all".into(),
        execs: 1_000_000,
        seed: 1,
        timeout: DEFAULT_TIMEOUT,
        mem_cap: DEFAULT_MEM_CAP,
        out: targets::regressions_dir().to_path_buf(),
        worker: false,
        replay: true,
        crash_input: None,
        crash_reason: None,
        list: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: String| {
            v.replace('_', "")
                .parse::<u64>()
                .map_err(|_| format!("{flag}: `{v}` is not a whole number"))
        };
        match flag.as_str() {
            "--target" => a.target = value()?,
            "--execs" => a.execs = number(value()?)?,
            "--seed" => a.seed = number(value()?)?,
            "--timeout-ms" => a.timeout = Duration::from_millis(number(value()?)?.max(1)),
            "--mem-mib" => {
                a.mem_cap =
                    usize::try_from(number(value()?)?.saturating_mul(1 << 20)).unwrap_or(usize::MAX)
            }
            "--out" => a.out = PathBuf::from(value()?),
            "--list" => a.list = true,
            "--worker" => a.worker = true,
            "--no-replay" => a.replay = false,
            "--crash-input" => a.crash_input = Some(PathBuf::from(value()?)),
            "--crash-reason" => a.crash_reason = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    if a.target != "all" && targets::target(&a.target).is_none() {
        let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
        return Err(format!(
            "unknown target `{}`: one of all, {}",
            a.target,
            names.join(", ")
        ));
    }
    Ok(a)
}

/// The worker: one target, in this process; prints `progress N` and
/// `done N POOL SIGNATURES PEAK` on stdout.
fn worker(a: &Args) -> ExitCode {
    let Some(target) = targets::target(&a.target) else {
        eprintln!("pmemvm-fuzz: unknown target {}", a.target);
        return ExitCode::from(2);
    };
    if let (Some(i), Some(r)) = (&a.crash_input, &a.crash_reason)
        && let Err(e) = pmemvm_fuzz::setup_crash_files(i, r, a.timeout)
    {
        eprintln!("pmemvm-fuzz: crash files: {e}");
        return ExitCode::from(2);
    }
    let opts = Options {
        execs: a.execs,
        seed: a.seed,
        mem_cap: a.mem_cap,
        replay: a.replay,
        out: a.out.clone(),
    };
    let report = pmemvm_fuzz::fuzz(target, &opts, &mut |n| say(&format!("progress {n}")));
    for f in &report.failures {
        say(&format!("failure {}\t{}", f.path.display(), f.reason));
    }
    say(&format!(
        "done {} {} {} {}",
        report.execs, report.pool, report.signatures, report.peak
    ));
    ExitCode::SUCCESS
}

/// Per target, what the parent saw.
#[derive(Debug, Default)]
struct Totals {
    execs: u64,
    secs: f64,
    failures: Vec<(String, PathBuf)>,
    restarts: u32,
    pool: usize,
    signatures: usize,
    peak: usize,
}

/// Adds what was being done to an I/O error of the harness itself.
fn doing(what: &'static str) -> impl FnOnce(std::io::Error) -> std::io::Error {
    move |e| std::io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Runs one target in worker processes until `execs` executions are done.
fn run_target(a: &Args, t: &Target) -> std::io::Result<Totals> {
    let mut totals = Totals::default();
    let start = Instant::now();
    let tmp = std::env::temp_dir();
    let crash_input = tmp.join(format!(
        "pmemvm-fuzz-{}-{}.input",
        std::process::id(),
        t.name
    ));
    let crash_reason = tmp.join(format!(
        "pmemvm-fuzz-{}-{}.reason",
        std::process::id(),
        t.name
    ));
    let exe = std::env::current_exe().map_err(doing("the harness's own path"))?;
    while totals.execs < a.execs {
        let mut cmd = Command::new(&exe);
        cmd.args(["--worker", "--target", t.name])
            .args(["--execs", &(a.execs - totals.execs).to_string()])
            .args([
                "--seed",
                &(a.seed.wrapping_add(u64::from(totals.restarts) * 7919)).to_string(),
            ])
            .args(["--timeout-ms", &a.timeout.as_millis().to_string()])
            .args(["--mem-mib", &(a.mem_cap >> 20).to_string()])
            .arg("--out")
            .arg(&a.out)
            .arg("--crash-input")
            .arg(&crash_input)
            .arg("--crash-reason")
            .arg(&crash_reason)
            .env("RUST_BACKTRACE", "0")
            .stdout(Stdio::piped());
        if totals.restarts > 0 {
            cmd.arg("--no-replay");
        }
        let mut child = cmd.spawn().map_err(doing("starting a worker"))?;
        let Some(stdout) = child.stdout.take() else {
            return Err(std::io::Error::other("a worker without its stdout pipe"));
        };
        let mut done_here = 0u64;
        let mut finished = false;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let mut words = line.split_whitespace();
            match words.next() {
                Some("progress") => {
                    done_here = words
                        .next()
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(done_here)
                }
                Some("failure") => {
                    let rest = line["failure ".len()..].to_string();
                    let (path, reason) = rest.split_once('\t').unwrap_or((&rest, "panic"));
                    totals
                        .failures
                        .push((reason.to_string(), PathBuf::from(path)));
                }
                Some("done") => {
                    let v: Vec<u64> = words.filter_map(|w| w.parse().ok()).collect();
                    if let [n, pool, sigs, peak] = v[..] {
                        done_here = n;
                        totals.pool = pool as usize;
                        totals.signatures = sigs as usize;
                        totals.peak = totals.peak.max(peak as usize);
                        finished = true;
                    }
                }
                _ => {}
            }
        }
        let status = child.wait().map_err(doing("waiting for a worker"))?;
        if finished && status.success() {
            totals.execs += done_here;
            break;
        }
        // The worker died: the execution after its last progress report,
        // at most 4096 further, killed it. Count what it reported, plus one.
        totals.execs += done_here + 1;
        totals.restarts += 1;
        let input = read_crash_file(&crash_input);
        let mut reason = String::from_utf8_lossy(&read_crash_file(&crash_reason)).into_owned();
        if reason.is_empty() {
            reason = match (
                status.code(),
                std::os::unix::process::ExitStatusExt::signal(&status),
            ) {
                (Some(HANG_EXIT), _) => "hang".into(),
                (_, Some(sig)) => format!("killed by signal {sig}"),
                (code, _) => format!("the worker exited with {code:?}"),
            };
        }
        let path = save_failure(&a.out, t.name, &input).map_err(doing("saving a failing input"))?;
        eprintln!(
            "FAILURE {}: {reason}; input ({} bytes) saved as {}",
            t.name,
            input.len(),
            path.display()
        );
        totals.failures.push((reason, path));
        if totals.restarts >= 50 {
            eprintln!(
                "pmemvm-fuzz: {}: 50 workers died; giving up on this target",
                t.name
            );
            break;
        }
    }
    let _ = std::fs::remove_file(&crash_input);
    let _ = std::fs::remove_file(&crash_reason);
    totals.secs = start.elapsed().as_secs_f64();
    Ok(totals)
}

fn unique(failures: &[(String, PathBuf)]) -> usize {
    let mut reasons: Vec<String> = failures
        .iter()
        .map(|(r, _)| r.chars().filter(|c| !c.is_ascii_digit()).collect())
        .collect();
    reasons.sort();
    reasons.dedup();
    reasons.len()
}

fn main() -> ExitCode {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("pmemvm-fuzz: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(if e.is_empty() { 0 } else { 2 });
        }
    };
    if a.list {
        for t in TARGETS.iter().chain(SELF_TESTS) {
            println!("{:<16} {}", t.name, t.what);
        }
        return ExitCode::SUCCESS;
    }
    if a.worker {
        return worker(&a);
    }
    let chosen: Vec<&Target> = match targets::target(&a.target) {
        Some(t) => vec![t],
        None => TARGETS.iter().collect(),
    };
    println!(
        "pmemvm-fuzz: {} execution(s) per target, seed {}, time limit {} ms, memory cap {} MiB, failures to {}",
        a.execs,
        a.seed,
        a.timeout.as_millis(),
        a.mem_cap >> 20,
        a.out.display()
    );
    println!(
        "{:<10} {:>10} {:>9} {:>9} {:>9} {:>7} {:>7} {:>10}",
        "target", "execs", "secs", "execs/s", "failures", "unique", "pool", "peak mem"
    );
    let mut failed = false;
    let all = Instant::now();
    let mut total = 0u64;
    for t in chosen {
        let r = match run_target(&a, t) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("pmemvm-fuzz: {}: {e}", t.name);
                return ExitCode::from(2);
            }
        };
        failed |= !r.failures.is_empty();
        total += r.execs;
        println!(
            "{:<10} {:>10} {:>9.1} {:>9.0} {:>9} {:>7} {:>7} {:>8} K",
            t.name,
            r.execs,
            r.secs,
            r.execs as f64 / r.secs.max(1e-9),
            r.failures.len(),
            unique(&r.failures),
            r.pool,
            r.peak >> 10
        );
        for (reason, path) in &r.failures {
            println!("  failure: {reason} ({})", path.display());
        }
    }
    println!(
        "total: {total} executions in {:.1} s; {}",
        all.elapsed().as_secs_f64(),
        if failed {
            "FAILURES (inputs saved; each is now a regression test)"
        } else {
            "no failure"
        }
    );
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
