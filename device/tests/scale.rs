//! The model at scale: long runs stay fast and small. `PMEMVM_SCALE=n`
//! multiplies the sizes (the defaults are for debug builds).

use std::time::Instant;

use pmemvm_device::crash::ImageSpec;
use pmemvm_device::model::{Atomicity, FenceKind, FlushKind, Model, ModelConfig, Persistence};

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

/// A PMDK-like workload: stores over many lines, persisted in batches.
fn run(m: &mut Model, n: u64, persist_every: u64) -> u64 {
    let mut seq = 0;
    for i in 0..n {
        let off = (i * 7919 % 100_000) * 64 + (i % 8) * 8;
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

#[test]
fn long_persisted_runs_are_fast_and_small() {
    let n = 200_000 * scale();
    for (p, a) in [
        (Persistence::Adr, Atomicity::Line),
        (Persistence::Adr, Atomicity::Word),
        (Persistence::Eadr, Atomicity::Line),
    ] {
        let mut m = model(p, a);
        let t = Instant::now();
        run(&mut m, n, 16);
        let el = t.elapsed();
        eprintln!(
            "{p}/{a}: {n} stores+clwb in {el:?} ({:.0} ns/event)",
            el.as_nanos() as f64 / (2 * n) as f64
        );
        assert!(m.retained_writes() <= 16);
        let t = Instant::now();
        let count = m.count_images();
        let img = m.image(&ImageSpec::Random(1)).unwrap();
        eprintln!(
            "  count {count}, random image of {} lines in {:?}",
            img.lines.len(),
            t.elapsed()
        );
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
