//! The model at scale: long runs stay fast and small. `PMEMVM_SCALE=n`
//! multiplies the sizes (the defaults are for debug builds).

use std::ops::Range;
use std::time::{Duration, Instant};

use pmemvm_device::crash::ImageSpec;
use pmemvm_device::model::{Atomicity, FenceKind, FlushKind, Model, ModelConfig, Persistence};

/// Lines the persisted workload cycles through.
const LINES: u64 = 100_000;
/// A persisted run is timed in this many windows of equal length.
const WINDOWS: u64 = 64;
/// Windows whose median time is compared: the first ones, the latest ones.
const SAMPLE: usize = 8;
/// How much slower the latest windows may be than the first ones. A model
/// that keeps up is about as fast late in a run as early (measured: at most
/// 2.7 times slower, while the line map outgrows the caches on a busy
/// machine; faster once every line is touched), while one whose events cost
/// time in the number of lines touched is 8 times slower a quarter into the
/// run, and 30 times at the end.
const MAX_SLOWDOWN: u32 = 8;

fn scale() -> u64 {
    std::env::var("PMEMVM_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

fn model(persistence: Persistence, atomicity: Atomicity) -> Model {
    Model::new(ModelConfig {
        size: 1 << 30,
        persistence,
        atomicity,
    })
}

/// A PMDK-like workload: stores over many lines, each flushed, fenced every
/// `persist_every` stores. Runs stores `range` after the event numbered
/// `seq`; returns the last event's number.
fn run(m: &mut Model, mut seq: u64, range: Range<u64>, persist_every: u64) -> u64 {
    for i in range {
        let off = (i * 7919 % LINES) * 64 + (i % 8) * 8;
        if m.needs_init(off) {
            m.init_line(off, [0; 64]);
        }
        seq += 1;
        m.store(seq, off, &i.to_le_bytes()).unwrap();
        seq += 1;
        m.flush(seq, FlushKind::Clwb, off).unwrap();
        if i % persist_every == 0 {
            seq += 1;
            m.fence(seq, FenceKind::Sfence);
        }
    }
    seq
}

/// The median of some durations.
fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    sorted[sorted.len() / 2]
}

/// Runs `n` stores of the workload, timed by window, and fails as soon as
/// the latest windows take more than [`MAX_SLOWDOWN`] times as long as the
/// first ones: the time of an event must not grow with the length of the
/// run or with the number of lines it touched. (Medians, so that a window
/// slowed down by the machine or by the growth of the line map is not
/// taken for the model's pace.)
fn run_at_steady_pace(m: &mut Model, n: u64, persist_every: u64, what: &str) {
    let mut seq = 0;
    let mut times = Vec::new();
    for w in 0..WINDOWS {
        let t = Instant::now();
        seq = run(
            m,
            seq,
            w * n / WINDOWS..(w + 1) * n / WINDOWS,
            persist_every,
        );
        times.push(t.elapsed());
        if times.len() >= 2 * SAMPLE {
            let first = median(&times[..SAMPLE]);
            let latest = median(&times[times.len() - SAMPLE..]);
            assert!(
                latest <= first * MAX_SLOWDOWN,
                "{what}: windows {}..={w} take {latest:?} each, the first ones {first:?}: \
                 events get slower as the run goes on",
                times.len() - SAMPLE
            );
        }
    }
}

#[test]
fn long_persisted_runs_are_fast_and_small() {
    let n = 200_000 * scale();
    let persist_every = 16;
    for (p, a) in [
        (Persistence::Adr, Atomicity::Line),
        (Persistence::Adr, Atomicity::Word),
        (Persistence::Eadr, Atomicity::Line),
    ] {
        let mut m = model(p, a);
        let t = Instant::now();
        run_at_steady_pace(&mut m, n, persist_every, &format!("{p}/{a}"));
        let el = t.elapsed();
        eprintln!(
            "{p}/{a}: {n} stores+clwb in {el:?} ({:.0} ns/event)",
            el.as_nanos() as f64 / (2 * n) as f64
        );
        // Only the stores after the last fence are kept, each to its own
        // line: the images are their subsets (ADR) or prefixes (eADR).
        let unfenced = (n - 1) % persist_every;
        assert_eq!(m.retained_writes() as u64, unfenced);
        let t = Instant::now();
        let count = m.count_images();
        let img = m.image(&ImageSpec::Random(1)).unwrap();
        eprintln!(
            "  count {count}, random image of {} lines in {:?}",
            img.lines.len(),
            t.elapsed()
        );
        match p {
            Persistence::Adr => assert_eq!(count, 1 << unfenced),
            Persistence::Eadr => assert_eq!(count, u128::from(unfenced) + 1),
        }
        assert_eq!(img.lines.len() as u64, LINES.min(n));
    }
}

#[test]
fn long_unpersisted_runs_are_counted() {
    let n = 50_000 * scale();
    for p in [Persistence::Adr, Persistence::Eadr] {
        let mut m = model(p, Atomicity::Line);
        let mut seq = 0;
        for i in 0..n {
            let off = (i % 1000) * 64;
            if m.needs_init(off) {
                m.init_line(off, [0; 64]);
            }
            seq += 1;
            m.store(seq, off, &(i + 1).to_le_bytes()).unwrap();
        }
        let t = Instant::now();
        let count = m.count_images();
        eprintln!(
            "{p}: count of {n} unpersisted stores: {count} in {:?}",
            t.elapsed()
        );
        match p {
            Persistence::Adr => assert_eq!(count, u128::MAX),
            Persistence::Eadr => assert_eq!(count, n as u128 + 1),
        }
        assert_eq!(m.retained_writes() as u64, n);
    }
}
